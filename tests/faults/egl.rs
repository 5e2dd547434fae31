//! EGL: a libglvnd vendor library in Mesa's place whose __egl_Main never returns.

use super::*;

#[test]
fn egl_vendor_that_hangs_times_out_in_stage_init() {
    let name = "egl_vendor_that_hangs_times_out_in_stage_init";
    let report = Probe::new(name, "cpu,opencl,vulkan,egl", HANG_TIMEOUT)
        .env("LD_LIBRARY_PATH", &fixtures().egl_dir)
        .run();
    assert_backend(&report, "egl", "unusable", Some("timeout"));
    let message = reason_message(&report, "egl");
    assert!(message.contains("stage init"), "{message}");
    assert_software_devices_validated(&report);
}
