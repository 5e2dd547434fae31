use super::*;
use crate::protocol::NoProgress;

struct Dump {
    arch: &'static str,
    cpuinfo: &'static str,
}

impl CpuSource for Dump {
    fn architecture(&self) -> String {
        self.arch.to_owned()
    }
    fn cpuinfo(&self) -> Option<String> {
        Some(self.cpuinfo.to_owned())
    }
    fn meminfo(&self) -> Option<String> {
        Some("MemTotal:       24576000 kB\nMemFree: 1 kB\n".to_owned())
    }
}

fn x86(flags: &str) -> Dump {
    let text = format!(
        "processor\t: 0\nvendor_id\t: GenuineIntel\nmodel name\t: Test CPU\nflags\t\t: {flags}\n\n\
         processor\t: 1\nvendor_id\t: GenuineIntel\nmodel name\t: Test CPU\nflags\t\t: {flags}\n"
    );
    Dump {
        arch: "x86_64",
        cpuinfo: Box::leak(text.into_boxed_str()),
    }
}

const V1: &str = "fpu cx8 cmov mmx fxsr sse sse2 syscall lm";
const V2: &str = "cx16 lahf_lm popcnt sse4_1 sse4_2 ssse3";
const V3: &str = "avx avx2 bmi1 bmi2 f16c fma abm movbe xsave";
const V4: &str = "avx512f avx512bw avx512cd avx512dq avx512vl";

fn level(flags: &str) -> Option<&'static str> {
    let dump = x86(flags);
    CpuFacts::read(&dump).unwrap().x86_64_level()
}

#[test]
fn psabi_levels_follow_the_flag_lists() {
    assert_eq!(level(V1), Some("x86-64"));
    assert_eq!(level(&format!("{V1} {V2}")), Some("x86-64-v2"));
    assert_eq!(level(&format!("{V1} {V2} {V3}")), Some("x86-64-v3"));
    assert_eq!(level(&format!("{V1} {V2} {V3} {V4}")), Some("x86-64-v4"));
    assert_eq!(level("sse sse2"), None);
}

#[test]
fn a_missing_lower_flag_caps_the_level() {
    // AVX-512 without LAHF/SAHF in long mode (early x86-64 parts) is still only v1.
    let no_lahf = format!("{V1} {} {V3} {V4}", V2.replace("lahf_lm", ""));
    assert_eq!(level(&no_lahf), Some("x86-64"));
    let no_movbe = format!("{V1} {V2} {} {V4}", V3.replace("movbe", ""));
    assert_eq!(level(&no_movbe), Some("x86-64-v2"));
}

#[test]
fn capability_features_list_every_level_up_to_the_top() {
    let dump = x86(&format!("{V1} {V2} {V3}"));
    let facts = CpuFacts::read(&dump).unwrap();
    assert_eq!(facts.capability_features(), ["x86-64-v2", "x86-64-v3"]);
    assert_eq!(facts.logical_cores, 2);
    assert_eq!(facts.memory_bytes, Some(24576000 * 1024));
    assert_eq!(facts.vendor, "GenuineIntel");
}

#[test]
fn aarch64_features_become_arm64_capabilities() {
    let dump = Dump {
        arch: "aarch64",
        cpuinfo: "processor\t: 0\nBogoMIPS\t: 50.00\n\
                  Features\t: fp asimd evtstrm aes pmull sha1 sha2 crc32 atomics fphp asimdhp asimddp sve sve2 i8mm bf16\n\
                  CPU implementer\t: 0x41\nCPU architecture: 8\nCPU variant\t: 0x0\nCPU part\t: 0xd4f\n\n\
                  processor\t: 1\nFeatures\t: fp asimd\n",
    };
    let facts = CpuFacts::read(&dump).unwrap();
    assert_eq!(facts.vendor, "ARM");
    assert_eq!(facts.model, "implementer 0x41 part 0xd4f");
    assert_eq!(facts.x86_64_level(), None);
    assert_eq!(
        facts.capability_features(),
        [
            "arm64-asimd",
            "arm64-dotprod",
            "arm64-fp16",
            "arm64-lse",
            "arm64-bf16",
            "arm64-i8mm",
            "arm64-sve",
            "arm64-sve2"
        ]
    );
}

#[test]
fn unreadable_cpuinfo_is_a_reason_not_a_panic() {
    let dump = Dump {
        arch: "x86_64",
        cpuinfo: "garbage without processors",
    };
    let report = probe_with(&dump, Level::Standard, &mut NoProgress);
    assert_eq!(report.status, Status::Unusable);
    assert_eq!(report.reason.unwrap().code, ReasonCode::ProbeFailed);
}

#[test]
fn standard_level_validates_the_host() {
    let dump = x86(&format!("{V1} {V2}"));
    let report = probe_with(&dump, Level::Standard, &mut NoProgress);
    assert_eq!(report.status, Status::Validated);
    let device = &report.devices[0];
    let [saxpy] = device.validations.as_slice() else {
        panic!("{:?}", device.validations)
    };
    assert!(saxpy.passed);
    assert_eq!(saxpy.kind.name(), "saxpy");
    assert_eq!(device.properties["psabi_level"], "x86-64-v2");
    let quick = probe_with(&dump, Level::Quick, &mut NoProgress);
    assert_eq!(quick.status, Status::Enumerated);
    assert!(quick.devices[0].validations.is_empty());
}

#[test]
fn this_machine_reads() {
    let facts = CpuFacts::read(&ProcSource).expect("/proc/cpuinfo");
    assert!(facts.logical_cores >= 1);
    if facts.architecture == "x86_64" {
        assert!(facts.x86_64_level().is_some());
    }
}
