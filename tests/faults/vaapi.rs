//! VA-API: a libva driver that segfaults in its init function.
//!
//! This machine has no DRM device, and libva opens a driver only for a DRM fd. So the probe runs
//! in a private user and mount namespace where `/dev/dri/renderD128` exists (it is `/dev/null`,
//! made to look like a DRM node to libdrm by a `device/drm` entry under a private
//! `/sys/dev/char/1:3`), and where libva's own driver directory holds the fixture driver. The
//! kernel's answer to DRM_IOCTL_VERSION, which names the driver, cannot be faked by files, so a
//! `drmGetVersion` shim comes in through `LD_PRELOAD`. hwspec, its worker, libva and its driver
//! loading are the real ones, found where they are on a real machine.

use super::*;

/// Run by `unshare` before hwspec: builds the namespace described above, then execs hwspec.
const VAAPI_NAMESPACE_SETUP: &str = r#"
set -e
S=$HWSPEC_VAAPI_SCRATCH
mkdir -p "$S/olddev" "$S/char" "$S/drivers"
for entry in /sys/dev/char/*; do ln -s "$(readlink -f "$entry")" "$S/char/${entry##*/}"; done
rm -f "$S/char/1:3"
mkdir -p "$S/char/1:3/device/drm"
mount --bind "$S/char" /sys/dev/char
mount --rbind /dev "$S/olddev"
mount -t tmpfs tmpfs /dev
for node in null zero full random urandom tty; do
    touch "/dev/$node"
    mount --bind "$S/olddev/$node" "/dev/$node"
done
mkdir /dev/shm /dev/pts /dev/dri
mount --rbind "$S/olddev/shm" /dev/shm
ln -s /proc/self/fd /dev/fd
touch /dev/dri/renderD128
mount --bind "$S/olddev/null" /dev/dri/renderD128
cp "$HWSPEC_VAAPI_DRIVER" "$S/drivers/"
mount --bind "$S/drivers" "$HWSPEC_VAAPI_DRIVER_DIR"
exec "$@"
"#;

/// libva 2.17's compiled-in driver directory on Debian amd64.
const LIBVA_DRIVER_DIR: &str = "/usr/lib/x86_64-linux-gnu/dri";

#[test]
fn vaapi_driver_that_segfaults_in_init_is_crashed() {
    let name = "vaapi_driver_that_segfaults_in_init_is_crashed";
    assert!(
        Command::new("unshare")
            .args(["--user", "--map-root-user", "--mount", "true"])
            .status()
            .is_ok_and(|s| s.success()),
        "this case needs unprivileged user and mount namespaces (`unshare` from util-linux)"
    );
    assert!(
        Path::new(LIBVA_DRIVER_DIR).is_dir(),
        "{LIBVA_DRIVER_DIR} must exist to be replaced in the namespace (mesa-va-drivers)"
    );
    let dir = scratch_dir("vaapi-fault");
    let driver = compile_shared_object(
        &["faults/vaapi_driver.c"],
        &[],
        &dir.join("hwspec_crash_drv_video.so"),
    );
    let shim = compile_shared_object(
        &["faults/vaapi_driver.c"],
        &["VAAPI_DRM_VERSION_SHIM"],
        &dir.join("libhwspec_drm_version.so"),
    );
    let scratch = dir.join("namespace");
    std::fs::create_dir_all(&scratch).unwrap();
    let report = Probe::new(name, "cpu,opencl,vulkan,vaapi", TIMEOUT)
        .env("HWSPEC_VAAPI_SETUP", VAAPI_NAMESPACE_SETUP)
        .env("HWSPEC_VAAPI_SCRATCH", &scratch)
        .env("HWSPEC_VAAPI_DRIVER", &driver)
        .env("HWSPEC_VAAPI_DRIVER_DIR", LIBVA_DRIVER_DIR)
        .env("LD_PRELOAD", &shim)
        .through_shell(
            r#"exec unshare --user --map-root-user --mount /bin/sh -c "$HWSPEC_VAAPI_SETUP" sh "$@""#,
        )
        .run();
    assert_backend(&report, "vaapi", "unusable", Some("crashed"));
    let message = reason_message(&report, "vaapi");
    assert!(message.contains("SIGSEGV"), "{message}");
    assert!(message.contains("stage init"), "{message}");
    assert!(
        message.contains("VA-API driver init segfaults"),
        "the crash is the fixture driver's: {message}"
    );
    assert_software_devices_validated(&report);
}
