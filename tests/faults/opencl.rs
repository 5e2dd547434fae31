//! OpenCL: a vendors directory with a faulty ICD next to a copy of the real pocl.icd.

use super::*;

/// A fresh vendors directory holding a copy of pocl.icd and the `.icd` files `extra`
/// (file name, contents). Returns the directory.
pub(crate) fn vendors_dir(name: &str, extra: &[(&str, Vec<u8>)]) -> PathBuf {
    let dir = scratch_dir(name);
    std::fs::copy(POCL_ICD, dir.join("pocl.icd")).expect("PoCL's ICD file (pocl-opencl-icd)");
    for (file, contents) in extra {
        std::fs::write(dir.join(file), contents).unwrap();
    }
    dir
}

pub(crate) fn icd_naming(library: &Path) -> Vec<u8> {
    format!("{}\n", library.display()).into_bytes()
}

fn opencl_fault(name: &str, extra: &[(&str, Vec<u8>)], timeout: f64) -> (Probe, PathBuf) {
    let dir = vendors_dir(name, extra);
    let probe = Probe::new(name, CUDA_BACKENDS, timeout).env("OCL_ICD_VENDORS", &dir);
    (probe, dir)
}

/// The warning that names `icd` in the OpenCL report, if any.
pub(crate) fn warning_naming(report: &Value, icd: &Path) -> Option<String> {
    let prefix = format!("OpenCL ICD {}", icd.display());
    warnings(report, "opencl")
        .into_iter()
        .find(|w| w.starts_with(&prefix))
}

/// OpenCL validated on PoCL, the culprit `icd` named in a warning that contains `words`, and
/// the other backends as usual.
fn assert_icd_named(report: &Value, icd: &Path, words: &[&str]) {
    assert_software_devices_validated(report);
    let warning = warning_naming(report, icd).unwrap_or_else(|| {
        panic!(
            "no warning names {}: {:#}",
            icd.display(),
            backend(report, "opencl")
        )
    });
    for word in words {
        assert!(warning.contains(word), "{word:?} not in {warning:?}");
    }
    assert_backend(report, "cuda", "absent", Some("library-not-found"));
}

#[test]
fn opencl_empty_vendors_dir_is_absent() {
    let name = "opencl_empty_vendors_dir_is_absent";
    let dir = scratch_dir(name);
    let report = Probe::new(name, CUDA_BACKENDS, TIMEOUT)
        .env("OCL_ICD_VENDORS", &dir)
        .run();
    assert_backend(&report, "opencl", "absent", Some("no-device"));
    assert_backend(&report, "cpu", "validated", None);
    assert_backend(&report, "vulkan", "validated", None);
}

#[test]
fn opencl_icd_naming_a_missing_library_is_named() {
    let name = "opencl_icd_naming_a_missing_library_is_named";
    let missing = "/nonexistent/libhwspec-missing-icd.so";
    let (probe, dir) = opencl_fault(
        name,
        &[("missing.icd", format!("{missing}\n").into_bytes())],
        TIMEOUT,
    );
    let report = probe.run();
    let icd = dir.join("missing.icd");
    assert_icd_named(&report, &icd, &[missing, "cannot be loaded"]);
}

#[test]
fn opencl_icd_with_garbage_contents_is_named() {
    let name = "opencl_icd_with_garbage_contents_is_named";
    let garbage = b"\x7f\x00\xffnot a library path \x01\x02\n\xfe\xfd".to_vec();
    let (probe, dir) = opencl_fault(name, &[("garbage.icd", garbage)], TIMEOUT);
    let report = probe.run();
    assert_icd_named(&report, &dir.join("garbage.icd"), &["cannot be loaded"]);
}

#[test]
fn opencl_icd_naming_a_garbage_library_is_named() {
    let name = "opencl_icd_naming_a_garbage_library_is_named";
    let dir = scratch_dir(&format!("{name}-lib"));
    let library = dir.join("libhwspec_garbage_icd.so");
    std::fs::write(&library, b"this is not an ELF shared object\n").unwrap();
    let (probe, vendors) = opencl_fault(name, &[("garbage.icd", icd_naming(&library))], TIMEOUT);
    let report = probe.run();
    assert_icd_named(
        &report,
        &vendors.join("garbage.icd"),
        &[library.to_str().unwrap(), "cannot be loaded"],
    );
}

#[test]
fn opencl_icd_that_segfaults_is_isolated() {
    let name = "opencl_icd_that_segfaults_is_isolated";
    let icd = icd_naming(&fixtures().icd_segv);
    let (probe, dir) = opencl_fault(name, &[("segv.icd", icd)], TIMEOUT);
    let report = probe.rounds(2).run();
    assert_icd_named(&report, &dir.join("segv.icd"), &["crashed", "SIGSEGV"]);
}

#[test]
fn opencl_icd_that_hangs_is_isolated() {
    let name = "opencl_icd_that_hangs_is_isolated";
    let icd = icd_naming(&fixtures().icd_hang);
    let (probe, dir) = opencl_fault(name, &[("hang.icd", icd)], HANG_TIMEOUT);
    let report = probe.rounds(2).run();
    assert_icd_named(&report, &dir.join("hang.icd"), &["timeout"]);
}

#[test]
fn opencl_icd_that_crashes_at_unload_never_unloads() {
    let name = "opencl_icd_that_crashes_at_unload_never_unloads";
    let icd = icd_naming(&fixtures().icd_unload_crash);
    let (probe, _) = opencl_fault(name, &[("unload.icd", icd)], TIMEOUT);
    let report = probe.run();
    // The worker leaves with _exit: the destructor never runs, so nothing crashed; the one
    // warning is the platform without devices, named as every such platform is.
    assert_software_devices_validated(&report);
    let named = warnings(&report, "opencl");
    assert_eq!(named.len(), 1, "{report:#}");
    assert!(
        named[0].starts_with(&format!("OpenCL platform \"{ZERO_DEVICE_PLATFORM}\"")),
        "{named:?}"
    );
    let platforms = backend(&report, "opencl")["properties"]["platforms"].to_string();
    assert!(platforms.contains(ZERO_DEVICE_PLATFORM), "{platforms}");
}

#[test]
fn opencl_icd_with_zero_devices_is_listed() {
    let name = "opencl_icd_with_zero_devices_is_listed";
    let icd = icd_naming(&fixtures().icd_zero_devices);
    let (probe, _) = opencl_fault(name, &[("zero.icd", icd)], TIMEOUT);
    let report = probe.run();
    assert_software_devices_validated(&report);
    let platforms = backend(&report, "opencl")["properties"]["platforms"].to_string();
    assert!(platforms.contains(ZERO_DEVICE_PLATFORM), "{platforms}");
    assert!(
        platforms.contains("Portable Computing Language"),
        "{platforms}"
    );
    let named = warnings(&report, "opencl");
    assert_eq!(named.len(), 1, "{named:?}");
    assert!(
        named[0].starts_with(&format!("OpenCL platform \"{ZERO_DEVICE_PLATFORM}\" (ICD "))
            && named[0].contains("zero.icd")
            && named[0].contains("lists no device"),
        "{named:?}"
    );
}

/// Design §7, issue 4 item 5: as root, loader variables from the caller do not reach workers
/// unless `--trust-env` is given, and the report lists the ones dropped.
#[test]
fn root_drops_loader_variables_without_trust_env() {
    let name = "root_drops_loader_variables_without_trust_env";
    let empty = scratch_dir(name);
    let report = Probe::new(name, "cpu,opencl", TIMEOUT)
        .untrusted_env()
        .env("OCL_ICD_VENDORS", &empty)
        .run();
    if report["host"]["root"] != true {
        eprintln!("{name}: not running as root, so nothing is dropped; skipping the root checks");
        return;
    }
    assert_opencl_validated_on_pocl(&report);
    let dropped: BTreeSet<&str> = report["host"]["dropped_environment"]
        .as_array()
        .unwrap_or_else(|| panic!("host.dropped_environment: {:#}", report["host"]))
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    assert!(dropped.contains("OCL_ICD_VENDORS"), "{dropped:?}");
    assert!(
        report["host"]["environment"]
            .get("OCL_ICD_VENDORS")
            .is_none(),
        "{:#}",
        report["host"]
    );
}
