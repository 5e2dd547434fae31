use crate::backends::conformance;
use std::collections::BTreeMap;
use std::ffi::OsStr;
use std::path::Path;

use serde_json::{json, Value};

use super::facts::{Evidence, NodeAccess};
use super::sys::PropLayout;
use super::*;
use crate::protocol::NoProgress;
use crate::testing::{compile_fixture, print_marked, ChildRunner, TempDir, NO_ENV, PROBE_MODE};

// ---- pure functions ----

#[test]
fn hip_versions_read_as_major_minor_patch() {
    assert_eq!(
        facts::format_hip_version(50_221_153).as_deref(),
        Some("5.2.21153")
    );
    assert_eq!(
        facts::format_hip_version(60_443_483).as_deref(),
        Some("6.4.43483")
    );
    assert_eq!(facts::format_hip_version(0), None);
    assert_eq!(facts::format_hip_version(-1), None);
    assert_eq!(facts::hip_major(50_221_153), 5);
    assert_eq!(facts::hip_major(70_000_000), 7);
    assert_eq!(facts::hip_major(-3), 0);
}

#[test]
fn gfx_target_ids_split_into_base_and_features() {
    assert_eq!(
        facts::base_gfx_target("gfx90a:sramecc+:xnack-"),
        Some("gfx90a")
    );
    assert_eq!(facts::base_gfx_target("gfx1100"), Some("gfx1100"));
    assert_eq!(
        facts::base_gfx_target("gfx942:sramecc+:xnack-"),
        Some("gfx942")
    );
    assert_eq!(
        facts::target_features("gfx90a:sramecc+:xnack-"),
        Some("sramecc+:xnack-")
    );
    assert_eq!(facts::target_features("gfx1030"), None);
    for garbage in [
        "",
        "gfx",
        "GFX90a",
        "sm_90",
        "gfx90z",
        "gfx\u{1}",
        "gfx1234567",
    ] {
        assert_eq!(facts::base_gfx_target(garbage), None, "{garbage:?}");
    }
}

#[test]
fn the_compiler_isa_list_is_matched_on_the_base_target() {
    let isas = vec![
        "amdgcn-amd-amdhsa--gfx90a".to_owned(),
        "amdgcn-amd-amdhsa--gfx942:sramecc+:xnack-".to_owned(),
        "amdgcn-amd-amdhsa--gfx1030".to_owned(),
    ];
    assert!(facts::compiler_knows(&isas, "gfx90a"));
    assert!(facts::compiler_knows(&isas, "gfx942"));
    assert!(!facts::compiler_knows(&isas, "gfx90"));
    assert!(!facts::compiler_knows(&isas, "gfx1100"));
}

/// A zeroed property buffer with the given fields written at `layout`'s offsets.
fn props(layout: PropLayout, name: &str, mem: u64, arch: &str, cus: i32) -> Vec<u8> {
    let (mem_at, cu_at, arch_at) = match layout {
        PropLayout::R0000 => (256, 336, 396),
        PropLayout::R0600 => (288, 388, 1160),
    };
    let mut bytes = vec![0u8; sys::DEVICE_PROP_BUFFER];
    bytes[..name.len()].copy_from_slice(name.as_bytes());
    bytes[mem_at..mem_at + 8].copy_from_slice(&mem.to_ne_bytes());
    bytes[cu_at..cu_at + 4].copy_from_slice(&cus.to_ne_bytes());
    bytes[arch_at..arch_at + arch.len()].copy_from_slice(arch.as_bytes());
    bytes
}

#[test]
fn device_properties_are_read_only_when_the_layout_checks_out() {
    let name = "AMD Instinct MI210";
    let mem = 68_702_699_520;
    for layout in [PropLayout::R0000, PropLayout::R0600] {
        let bytes = props(layout, name, mem, "gfx90a:sramecc+:xnack-", 104);
        let facts = facts::read_properties(&bytes, layout, name, mem).unwrap();
        assert_eq!(facts.gcn_arch_name, "gfx90a:sramecc+:xnack-");
        assert_eq!(facts.compute_units, 104);
    }
    // A ROCm 6 struct read with ROCm 5's offsets: the memory field is not where assumed.
    let r0600 = props(PropLayout::R0600, name, mem, "gfx90a", 104);
    let wrong = facts::read_properties(&r0600, PropLayout::R0000, name, mem).unwrap_err();
    assert!(wrong.contains("totalGlobalMem"), "{wrong}");
    let other_name = facts::read_properties(&r0600, PropLayout::R0600, "other", mem).unwrap_err();
    assert!(other_name.contains("name"), "{other_name}");
    let no_arch = props(PropLayout::R0600, name, mem, "", 104);
    let refused = facts::read_properties(&no_arch, PropLayout::R0600, name, mem).unwrap_err();
    assert!(refused.contains("gcnArchName"), "{refused}");
    assert!(facts::read_properties(&[0; 16], PropLayout::R0600, name, mem).is_err());
}

#[test]
fn group_names_come_from_etc_group() {
    let etc_group = "root:x:0:\nvideo:x:44:alice\nrender:x:105:\n";
    assert_eq!(crate::sys::group_name(etc_group, 105), "render");
    assert_eq!(crate::sys::group_name(etc_group, 44), "video");
    assert_eq!(crate::sys::group_name(etc_group, 7), "gid 7");
}

fn evidence(kfd: NodeAccess, render: &[NodeAccess], env: &[(&str, &str)]) -> Evidence {
    Evidence {
        kfd,
        render_nodes: render
            .iter()
            .enumerate()
            .map(|(i, access)| (format!("/dev/dri/renderD{}", 128 + i), access.clone()))
            .collect(),
        env: env
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect(),
    }
}

const SAID: &str = "hipGetDeviceCount returned 100 (hipErrorNoDevice)";

#[test]
fn no_kfd_node_is_plain_absence() {
    let (status, code, message) =
        facts::no_device_verdict(&evidence(NodeAccess::Missing, &[], &[]), SAID);
    assert_eq!((status, code), (Status::Absent, ReasonCode::NoDevice));
    assert!(message.starts_with(SAID), "{message}");
    assert!(message.contains("/dev/kfd is missing"), "{message}");
    // A visibility variable hides nothing when there is no node to hide.
    let (status, code, _) = facts::no_device_verdict(
        &evidence(NodeAccess::Missing, &[], &[("HIP_VISIBLE_DEVICES", "")]),
        SAID,
    );
    assert_eq!((status, code), (Status::Absent, ReasonCode::NoDevice));
}

#[test]
fn an_unopenable_kfd_names_the_node_and_its_group() {
    let denied = NodeAccess::Denied {
        group: "render".into(),
    };
    let (status, code, message) = facts::no_device_verdict(
        &evidence(
            denied,
            &[NodeAccess::Openable],
            &[("HIP_VISIBLE_DEVICES", "0")],
        ),
        SAID,
    );
    assert_eq!(
        (status, code),
        (Status::Unusable, ReasonCode::PermissionDenied)
    );
    assert!(message.contains("/dev/kfd"), "{message}");
    assert!(message.contains("group render"), "{message}");
}

#[test]
fn unopenable_render_nodes_name_the_first_one_and_its_group() {
    let denied = NodeAccess::Denied {
        group: "video".into(),
    };
    let (status, code, message) = facts::no_device_verdict(
        &evidence(NodeAccess::Openable, &[denied.clone(), denied], &[]),
        SAID,
    );
    assert_eq!(
        (status, code),
        (Status::Unusable, ReasonCode::PermissionDenied)
    );
    assert!(message.contains("/dev/dri/renderD128"), "{message}");
    assert!(message.contains("group video"), "{message}");
}

#[test]
fn a_visibility_variable_over_present_nodes_is_hidden_by_env() {
    for var in facts::VISIBILITY_VARS {
        let (status, code, message) = facts::no_device_verdict(
            &evidence(
                NodeAccess::Openable,
                &[NodeAccess::Openable],
                &[(var, "-1")],
            ),
            SAID,
        );
        assert_eq!((status, code), (Status::Unusable, ReasonCode::HiddenByEnv));
        assert!(message.contains(var), "{message}");
    }
    // The gfx override hides nothing.
    let (_, code, message) = facts::no_device_verdict(
        &evidence(
            NodeAccess::Openable,
            &[NodeAccess::Openable],
            &[(facts::OVERRIDE_VAR, "9.0.0")],
        ),
        SAID,
    );
    assert_eq!(code, ReasonCode::NoDevice);
    assert!(message.contains("present, openable"), "{message}");
}

#[test]
fn evidence_properties_echo_nodes_and_variables() {
    let props: BTreeMap<String, String> = evidence(
        NodeAccess::Openable,
        &[],
        &[
            ("ROCR_VISIBLE_DEVICES", "1"),
            (facts::OVERRIDE_VAR, "10.3.0"),
        ],
    )
    .properties()
    .into_iter()
    .collect();
    assert_eq!(props["kfd"], "/dev/kfd present, openable");
    assert_eq!(props["render_nodes"], "no /dev/dri/renderD* node");
    assert_eq!(props["env.ROCR_VISIBLE_DEVICES"], "1");
    assert_eq!(props["env.HSA_OVERRIDE_GFX_VERSION"], "10.3.0");
}

#[test]
fn compile_failures_keep_the_first_log_lines() {
    let failure = CompileFailure {
        call: "hiprtcCompileProgram",
        code: 6,
        log: "\nhwspec.hip:1:5: error: unknown type name 'flot'\n  flot x;\n\n".into(),
    };
    assert_eq!(
        compile_message(&failure, "gfx90a"),
        "hiprtcCompileProgram returned 6 compiling for gfx90a: \
         hwspec.hip:1:5: error: unknown type name 'flot' | flot x;"
    );
}

#[test]
fn errors_name_the_call_the_number_and_the_runtime_name() {
    let error = HipError::new("hipGetDeviceCount", 100).named("hipErrorNoDevice");
    assert_eq!(
        error.to_string(),
        "hipGetDeviceCount returned 100 (hipErrorNoDevice)"
    );
    let unknown = HipError::new("hipInit", 4242);
    assert_eq!(unknown.to_string(), "hipInit returned 4242");
}

#[test]
fn the_runtime_is_looked_for_by_versioned_soname_only() {
    assert_eq!(
        sys::HIP_SONAMES,
        ["libamdhip64.so.7", "libamdhip64.so.6", "libamdhip64.so.5"]
    );
    assert!(sys::HIPRTC_SONAMES.iter().all(|s| s.contains(".so.")));
}

// ---- the loaded runtime ----

#[test]
fn a_missing_runtime_is_absent_and_named() {
    let missing = ["libhwspec-no-such-amdhip64.so.5"];
    conformance::missing_runtime(&missing, |level, progress| {
        probe_with(&missing, sys::HIPRTC_SONAMES, level, progress)
    });
}

/// Runs [`child_entry`] in a child process, in the mode that says what it should do. The HIP
/// runtime's state is per process and its teardown corrupts the heap, so each case gets a
/// fresh process that prints its result and leaves with `_exit`.
const CHILD: ChildRunner = ChildRunner {
    module: module_path!(),
    entry: "child_entry",
    switch: "HWSPEC_TEST_HIP_CHILD",
    level_var: "HWSPEC_TEST_HIP_CHILD_LEVEL",
    marker: "hwspec-child-report:",
    cleared: &[&[
        "HIP_VISIBLE_DEVICES",
        "ROCR_VISIBLE_DEVICES",
        "CUDA_VISIBLE_DEVICES",
        crate::driver_dirs::DRIVER_CACHE_ENV,
    ]],
};

/// Only does something in a child started through [`CHILD`]: runs its mode's case, prints
/// the result and leaves at once.
#[test]
fn child_entry() {
    let Some(mode) = CHILD.mode() else {
        return;
    };
    let result = match mode.as_str() {
        PROBE_MODE => {
            serde_json::to_value(HipBackend.probe(CHILD.level(), &mut NoProgress)).unwrap()
        }
        "compile" => compile_cases(),
        other => json!({ "error": format!("unknown child mode {other}") }),
    };
    print_marked(CHILD.marker, &result);
    crate::sys::exit_immediately(0);
}

/// hiprtc with no GPU present: the code objects for named targets, a broken source's log, the
/// code object manager's target list and a missing ROCm 6 hiprtc.
fn compile_cases() -> Value {
    let hip = match Hip::load(sys::HIP_SONAMES) {
        Ok(hip) => hip,
        Err(error) => return json!({ "error": error.to_string() }),
    };
    let major = hip.runtime_version().map_or(0, facts::hip_major);
    let rtc = match Hiprtc::load(&hip, major, sys::HIPRTC_SONAMES) {
        Ok(rtc) => rtc,
        Err(error) => return json!({ "error": error.to_string() }),
    };
    let compiled = |source: &str, target: &str| match rtc.compile(source, target) {
        Ok(code) => json!({ "len": code.len(), "elf": api::looks_like_elf(&code) }),
        Err(failure) => json!({ "failure": format!("{failure:?}") }),
    };
    let broken = match rtc.compile("extern \"C\" __global__ void k() { flot x; }", "gfx90a") {
        Ok(_) => json!({ "unexpected": "compiled" }),
        Err(failure) => json!({ "call": failure.call, "log": failure.log }),
    };
    let isas = api::compiler_isa_names().unwrap_or_default();
    let missing_hiprtc = Hiprtc::load(&hip, 6, &["libhwspec-no-such-hiprtc.so.6"])
        .map(|_| ())
        .unwrap_err()
        .to_string();
    json!({
        "hiprtc": rtc.library_name(),
        "saxpy_gfx90a": compiled(validate::source(false), "gfx90a"),
        "saxpy_gfx1030": compiled(validate::source(false), "gfx1030"),
        "both_gfx90a_features": compiled(validate::source(true), "gfx90a:sramecc+:xnack-"),
        "broken": broken,
        "knows_gfx90a": facts::compiler_knows(&isas, "gfx90a"),
        "knows_gfx9999": facts::compiler_knows(&isas, "gfx9999"),
        "missing_hiprtc": missing_hiprtc,
    })
}

/// Probes at level standard in a child with `env` added.
fn probe_in_child(env: &[(&str, &OsStr)]) -> BackendReport {
    CHILD.probe(Level::Standard, env)
}

#[test]
fn the_installed_runtime_without_a_gpu_is_absent_with_no_device() {
    let report = probe_in_child(&[]);
    assert_eq!(report.status, Status::Absent, "{report:#?}");
    let reason = report.reason.as_ref().unwrap();
    assert_eq!(reason.code, ReasonCode::NoDevice, "{reason:?}");
    assert!(
        reason.message.contains("hipErrorNoDevice"),
        "{}",
        reason.message
    );
    assert!(reason.message.contains("/dev/kfd"), "{}", reason.message);
    let library = report.library.as_deref().unwrap_or_default();
    assert!(
        library.starts_with('/') && library.contains("libamdhip64.so"),
        "library {library:?} (install libamdhip64-5)"
    );
    assert!(report.properties.contains_key("kfd"), "{report:#?}");
    let version = report.runtime_version.as_deref().unwrap_or_default();
    assert!(
        version.split('.').count() == 3 && !version.starts_with('0'),
        "runtime_version {version:?}"
    );
    assert!(report.devices.is_empty());
}

#[test]
fn hiprtc_compiles_for_named_targets_without_a_gpu() {
    let result: Value = CHILD.run("compile", None, NO_ENV).json(CHILD.marker);
    assert!(result.get("error").is_none(), "{result:#}");
    for case in ["saxpy_gfx90a", "saxpy_gfx1030", "both_gfx90a_features"] {
        assert_eq!(result[case]["elf"], true, "{case}: {result:#}");
        assert!(result[case]["len"].as_u64().unwrap_or(0) > 64, "{case}");
    }
    assert_eq!(
        result["broken"]["call"], "hiprtcCompileProgram",
        "{result:#}"
    );
    let log = result["broken"]["log"].as_str().unwrap_or_default();
    assert!(log.contains("flot"), "log {log:?}");
    assert_eq!(result["knows_gfx90a"], true, "{result:#}");
    assert_eq!(result["knows_gfx9999"], false, "{result:#}");
    let missing = result["missing_hiprtc"].as_str().unwrap_or_default();
    assert!(
        missing.contains("libhwspec-no-such-hiprtc.so.6"),
        "{missing}"
    );
}

/// Probes in a child whose dynamic loader finds `fake_hip.c`, built as `libamdhip64.so.5`
/// with the given `-D` definitions, first.
fn probe_with_fake(tag: &str, defines: &[&str]) -> BackendReport {
    let dir = TempDir::new(&format!("hip-{tag}"));
    let source = Path::new(env!("CARGO_MANIFEST_DIR")).join("src/backends/hip/fake_hip.c");
    compile_fixture(&source, dir.path(), "libamdhip64.so.5", defines);
    probe_in_child(&[("LD_LIBRARY_PATH", dir.path().as_os_str())])
}

#[test]
fn a_runtime_failing_to_count_devices_is_a_driver_error() {
    let report = probe_with_fake("count-error", &["COUNT_RESULT=1"]);
    assert_eq!(report.status, Status::Unusable, "{report:#?}");
    let reason = report.reason.unwrap();
    assert_eq!(reason.code, ReasonCode::DriverError);
    assert_eq!(
        reason.message,
        "hipGetDeviceCount returned 1 (hipErrorInvalidValue)"
    );
    let library = report.library.unwrap_or_default();
    assert!(library.contains("hwspec-hip-count-error"), "{library}");
}

#[test]
fn a_failing_hip_init_with_devices_counted_is_a_driver_error() {
    let report = probe_with_fake("init-error", &["INIT_RESULT=101", "COUNT_RESULT=1"]);
    let reason = report.reason.unwrap();
    assert_eq!(reason.code, ReasonCode::DriverError);
    assert_eq!(
        reason.message,
        "hipInit returned 101 (hipErrorInvalidDevice)"
    );
}

#[test]
fn hip_init_failing_as_debian_rocm_does_without_a_gpu_is_no_device() {
    let report = probe_with_fake("no-device", &["INIT_RESULT=101", "COUNT_RESULT=100"]);
    assert_eq!(report.status, Status::Absent, "{report:#?}");
    let reason = report.reason.unwrap();
    assert_eq!(reason.code, ReasonCode::NoDevice);
    assert!(
        reason.message.starts_with(
            "hipInit returned 101 (hipErrorInvalidDevice); \
             hipGetDeviceCount returned 100 (hipErrorNoDevice)"
        ),
        "{}",
        reason.message
    );
    assert_eq!(report.runtime_version.as_deref(), Some("5.2.21153"));
}

#[test]
fn a_runtime_lacking_an_entry_point_is_unusable_and_names_it() {
    let report = probe_with_fake("only-init", &["ONLY_HIPINIT"]);
    assert_eq!(report.status, Status::Unusable, "{report:#?}");
    let reason = report.reason.unwrap();
    assert_eq!(reason.code, ReasonCode::LoadFailed);
    assert!(
        reason.message.starts_with(
            "libamdhip64.so.5 lacks the entry points hipGetDeviceCount, hipRuntimeGetVersion, "
        ),
        "{}",
        reason.message
    );
}
