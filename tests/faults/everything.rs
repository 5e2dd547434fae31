//! Everything at once.

use super::*;

/// Every driver fault at once: a hanging, a segfaulting and a missing-library ICD next to
/// pocl.icd, a manifest naming a missing library and a crashing implicit layer next to
/// lavapipe, a hanging libcuda and a segfaulting libamdhip64. Run twice at the same time: with
/// `HOME` pointing nowhere (as sbuild does) and with `HOME` holding the crashing layer (the
/// Vulkan loader finds implicit layers only through `HOME` in a worker's environment, so one
/// run cannot have both).
#[test]
fn hostile_run_still_reports_pocl_and_lavapipe() {
    let name = "hostile_run_still_reports_pocl_and_lavapipe";
    let f = fixtures();
    let vendors = vendors_dir(
        name,
        &[
            ("hang.icd", icd_naming(&f.icd_hang)),
            ("segv.icd", icd_naming(&f.icd_segv)),
            (
                "missing.icd",
                b"/nonexistent/libhwspec-missing-icd.so\n".to_vec(),
            ),
        ],
    );
    let missing_manifest = scratch_dir(&format!("{name}-vk")).join("missing_icd.json");
    std::fs::write(
        &missing_manifest,
        r#"{"file_format_version": "1.0.0",
            "ICD": {"api_version": "1.3.0", "library_path": "/nonexistent/libhwspec_vk.so"}}"#,
    )
    .unwrap();
    let library_path = format!("{}:{}", f.cuda_dir.display(), f.hip_dir.display());
    let hostile = |run: &str, home: &Path| {
        Probe::new(
            &format!("{name}-{run}"),
            "cpu,opencl,vulkan,cuda,hip,level_zero",
            HANG_TIMEOUT,
        )
        .rounds(2)
        .env("OCL_ICD_VENDORS", &vendors)
        .env(
            "VK_DRIVER_FILES",
            format!("{}:{LAVAPIPE_MANIFEST}", missing_manifest.display()),
        )
        .env("LD_LIBRARY_PATH", &library_path)
        .env("CUDA_HWSPEC_FAULT", "hang")
        .env("HIP_HWSPEC_FAULT", "segv")
        .env("HOME", home)
    };
    let layered_home = home_with_crashing_layer(&format!("{name}-home"));
    let homeless = hostile("homeless", Path::new("/nonexistent/hwspec-home"));
    let layered = hostile("layered", &layered_home);
    let other = thread::spawn(move || layered.run());
    let reports = [homeless.run(), other.join().unwrap()];
    for report in &reports {
        assert_software_devices_validated(report);
        assert!(warning_naming(report, &vendors.join("hang.icd")).is_some());
        assert!(warning_naming(report, &vendors.join("segv.icd")).is_some());
        assert!(warning_naming(report, &vendors.join("missing.icd")).is_some());
        assert_backend(report, "cuda", "unusable", Some("timeout"));
        assert_backend(report, "hip", "unusable", Some("crashed"));
        assert_eq!(status_and_code(report, "level_zero").0, "absent");
    }
}
