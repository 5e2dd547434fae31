//! The real vendor user space Debian ships, probed without its hardware (issue 11): NVIDIA's
//! 535 driver libraries from non-free, Intel's compute runtime and Mesa's Clover and Rusticl
//! from main, next to the PoCL, lavapipe and llvmpipe devices this machine really has.
//!
//! `scripts/vendor-fixtures.sh` fetches and unpacks the packages (cached; see its header) and
//! the tests put them in front of the real loaders with `--trust-env`, `LD_LIBRARY_PATH`,
//! `OCL_ICD_VENDORS`, `VK_DRIVER_FILES` and `__EGL_VENDOR_LIBRARY_FILENAMES`. Where the
//! packages cannot be fetched (no network), each test says so and returns: nothing is faked.
//!
//! Run as root, NVIDIA's libcuda creates `/dev/nvidiactl` even without a GPU. So every probe
//! runs in a private mount namespace whose `/dev` is a tmpfs holding only the usual nodes: the
//! side effect is observed there, and the machine's `/dev` is never touched.
//!
//! Each case asserts the exact answer: the same fact, no NVIDIA device, reads `absent` /
//! `no-device` in every backend, with the library, version and device-node evidence, and every
//! driver a loader dropped named in a warning. With `HWSPEC_VENDOR_REPORTS=DIR` the reports of
//! the combined run are also written there, to be committed as replay fixtures.

mod support;

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::OnceLock;

use serde_json::Value;
use support::harness::warnings;
use support::{backend, capability_names, TestRun};

/// The unpacked packages, as `scripts/vendor-fixtures.sh` leaves them.
struct Vendor {
    dir: PathBuf,
    ld_library_path: String,
    /// `package=version` lines.
    versions: String,
}

impl Vendor {
    fn conf(&self, file: &str) -> String {
        self.dir.join("conf").join(file).display().to_string()
    }

    fn lib(&self, file: &str) -> String {
        self.dir
            .join("root/usr/lib/x86_64-linux-gnu")
            .join(file)
            .display()
            .to_string()
    }

    /// The upstream version of `package` (`535.309.01` of `535.309.01-0+deb12u1`).
    fn upstream(&self, package: &str) -> String {
        let line = self
            .versions
            .lines()
            .find(|l| l.starts_with(&format!("{package}=")))
            .unwrap_or_else(|| panic!("{package} was not unpacked: {}", self.versions));
        let version = &line[package.len() + 1..];
        let version = version.split_once(':').map_or(version, |(_, v)| v);
        version.split('-').next().unwrap().to_owned()
    }
}

/// The fixtures, fetched once per test binary; `None` (and a line saying why) when they cannot
/// be had here.
fn vendor() -> Option<&'static Vendor> {
    static VENDOR: OnceLock<Result<Vendor, String>> = OnceLock::new();
    let found = VENDOR.get_or_init(|| {
        if unsafe_uid() != 0 {
            return Err("the probes run in a private mount namespace, which needs root".into());
        }
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../scripts/vendor-fixtures.sh");
        let out = Command::new(&script)
            .stdin(Stdio::null())
            .output()
            .map_err(|e| format!("{}: {e}", script.display()))?;
        if !out.status.success() {
            return Err(String::from_utf8_lossy(&out.stderr).trim().to_owned());
        }
        let dir = PathBuf::from(String::from_utf8_lossy(&out.stdout).trim());
        let env = std::fs::read_to_string(dir.join("env")).map_err(|e| e.to_string())?;
        Ok(Vendor {
            ld_library_path: env
                .trim()
                .strip_prefix("LD_LIBRARY_PATH=")
                .ok_or("no LD_LIBRARY_PATH in env")?
                .to_owned(),
            versions: std::fs::read_to_string(dir.join("versions")).map_err(|e| e.to_string())?,
            dir,
        })
    });
    match found {
        Ok(vendor) => Some(vendor),
        Err(why) => {
            eprintln!("SKIPPED: the real vendor packages are not available: {why}");
            None
        }
    }
}

fn unsafe_uid() -> u32 {
    // The tests' own process: reading /proc avoids a libc dependency in the test crate.
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("Uid:"))
                .and_then(|l| l.split_whitespace().nth(2)?.parse().ok())
        })
        .unwrap_or(u32::MAX)
}

/// Builds a private `/dev` (a tmpfs with the usual nodes bind-mounted from the real one), runs
/// the command, then lists what `/dev` holds afterwards into `$HWSPEC_DEV_LISTING`.
const PRIVATE_DEV: &str = r#"
set -e
d=$(mktemp -d)
mount -t tmpfs -o mode=755 hwspec-private-dev "$d"
for node in null zero full random urandom tty; do
    touch "$d/$node"
    mount --bind "/dev/$node" "$d/$node"
done
mkdir "$d/shm" "$d/pts"
mount -t tmpfs -o mode=1777 hwspec-private-shm "$d/shm"
ln -s /proc/self/fd "$d/fd"
mount --move "$d" /dev
rmdir "$d"
set +e
"$@"
status=$?
ls /dev >"$HWSPEC_DEV_LISTING"
exit $status
"#;

/// One run of `hwspec` in a private mount namespace, with what its `/dev` held afterwards.
struct Private {
    run: TestRun,
    dev: Vec<String>,
}

fn private(vendor: &Vendor, args: &[&str], env: &[(&str, String)]) -> Private {
    let listing = std::env::temp_dir().join(format!(
        "hwspec-vendor-dev-{}-{}",
        std::process::id(),
        env.len() + args.len() + rand_suffix()
    ));
    let out = Command::new("unshare")
        .args([
            "--mount",
            "--propagation",
            "private",
            "sh",
            "-c",
            PRIVATE_DEV,
            "sh",
        ])
        .arg(env!("CARGO_BIN_EXE_hwspec"))
        .args(args)
        .env("LD_LIBRARY_PATH", &vendor.ld_library_path)
        .env("HWSPEC_DEV_LISTING", &listing)
        .envs(env.iter().map(|(k, v)| (k, v)))
        .stdin(Stdio::null())
        .output()
        .expect("unshare (util-linux)");
    let dev = std::fs::read_to_string(&listing).unwrap_or_default();
    let _ = std::fs::remove_file(&listing);
    assert!(
        !Path::new("/dev/nvidiactl").exists(),
        "a probe reached the machine's /dev"
    );
    Private {
        run: TestRun {
            code: out.status.code(),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        },
        dev: dev.lines().map(str::to_owned).collect(),
    }
}

fn rand_suffix() -> usize {
    use std::sync::atomic::{AtomicUsize, Ordering};
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    NEXT.fetch_add(1, Ordering::Relaxed)
}

/// `hwspec probe --json --fresh --trust-env` of `backends` in a private namespace.
fn probe(
    vendor: &Vendor,
    backends: &str,
    level: &str,
    env: &[(&str, String)],
) -> (Value, Vec<String>) {
    let args = [
        "probe",
        "--json",
        "--fresh",
        "--trust-env",
        "--backend",
        backends,
        "--level",
        level,
    ];
    let done = private(vendor, &args, env);
    done.run.assert_success();
    let report = serde_json::from_str(&done.run.stdout)
        .unwrap_or_else(|e| panic!("{e}: {}", done.run.stdout));
    (report, done.dev)
}

fn status_and_code(report: &Value, name: &str) -> (String, String) {
    let b = backend(report, name);
    (
        b["status"].as_str().unwrap().to_owned(),
        b["reason"]["code"].as_str().unwrap_or("-").to_owned(),
    )
}

fn property<'a>(report: &'a Value, name: &str, key: &str) -> Option<&'a str> {
    backend(report, name)["properties"][key].as_str()
}

/// Only NVIDIA's drivers in front of each loader.
fn nvidia_only(vendor: &Vendor) -> Vec<(&'static str, String)> {
    vec![
        ("OCL_ICD_VENDORS", vendor.conf("opencl/nvidia.icd")),
        ("VK_DRIVER_FILES", vendor.conf("vulkan/nvidia_icd.json")),
        (
            "__EGL_VENDOR_LIBRARY_FILENAMES",
            vendor.conf("egl/10_nvidia.json"),
        ),
    ]
}

const CREATED_CONTROL_NODE: &str = "/dev/nvidiactl (created by libcuda during cuInit)";
const LIBCUDA_NO_DEVICE: &str = "no CUDA device: cuInit returned 100 (CUDA_ERROR_NO_DEVICE)";

#[test]
fn nvidia_without_a_gpu_is_absent_no_device_in_cuda_and_nvcodec() {
    let Some(vendor) = vendor() else { return };
    let version = vendor.upstream("libcuda1");
    // One backend per namespace: both open libcuda, so in one run the first would create
    // /dev/nvidiactl before the other looked.
    for (name, library) in [
        ("cuda", format!("nvidia/current/libcuda.so.{version}")),
        ("nvcodec", format!("nvidia/current/libnvcuvid.so.{version}")),
    ] {
        let (report, dev) = probe(vendor, name, "standard", &nvidia_only(vendor));
        let b = backend(&report, name);
        assert_eq!(
            status_and_code(&report, name),
            ("absent".into(), "no-device".into()),
            "{b:#}"
        );
        assert_eq!(b["reason"]["message"], LIBCUDA_NO_DEVICE, "{name}");
        assert_eq!(b["library"].as_str(), Some(vendor.lib(&library).as_str()));
        assert_eq!(b["devices"].as_array().unwrap().len(), 0);
        assert_eq!(
            property(&report, name, "libcuda_version"),
            Some(version.as_str())
        );
        assert_eq!(property(&report, name, "device_nodes"), Some("none"));
        assert_eq!(
            property(&report, name, "device_nodes_created"),
            Some(CREATED_CONTROL_NODE)
        );
        assert_eq!(property(&report, name, "pci_gpus"), Some("none"));
        assert_eq!(property(&report, name, "kernel_module_version"), None);
        assert!(warnings(&report, name).is_empty(), "{b:#}");
        assert!(dev.contains(&"nvidiactl".to_owned()), "{name}: {dev:?}");
    }
}

#[test]
fn nvidia_without_a_gpu_names_its_dropped_opencl_vulkan_and_egl_drivers() {
    let Some(vendor) = vendor() else { return };
    let version = vendor.upstream("libcuda1");
    let env = nvidia_only(vendor);

    let (report, _) = probe(vendor, "opencl", "standard", &env);
    assert_eq!(
        status_and_code(&report, "opencl"),
        ("absent".into(), "no-device".into())
    );
    assert_eq!(
        warnings(&report, "opencl"),
        [format!(
            "OpenCL ICD {} ({}) gave the ICD loader no platform, so it was dropped: \
             clIcdGetPlatformIDsKHR returned -1 (CL_DEVICE_NOT_FOUND)",
            vendor.conf("opencl/nvidia.icd"),
            vendor.lib(&format!("nvidia/current/libnvidia-opencl.so.{version}"))
        )]
    );

    let (report, _) = probe(vendor, "vulkan", "standard", &env);
    assert_eq!(
        status_and_code(&report, "vulkan"),
        ("absent".into(), "no-device".into())
    );
    let manifest = vendor.conf("vulkan/nvidia_icd.json");
    let glx = vendor.lib(&format!("nvidia/current/libGLX_nvidia.so.{version}"));
    assert_eq!(
        warnings(&report, "vulkan"),
        [
            format!(
                "Vulkan driver manifest {manifest} ({glx}): the loader refused it: error: \
                 loader_scanned_icd_add: Could not get 'vkCreateInstance' via \
                 'vk_icdGetInstanceProcAddr' for ICD {}",
                vendor.lib("nvidia/current/libGLX_nvidia.so.0")
            ),
            "Vulkan loader error: vkCreateInstance: Found no drivers!".to_owned(),
        ]
    );

    let (report, _) = probe(vendor, "egl", "standard", &env);
    assert_eq!(
        status_and_code(&report, "egl"),
        ("absent".into(), "no-device".into())
    );
    assert_eq!(
        warnings(&report, "egl"),
        [format!(
            "EGL vendor file {} ({}): the vendor library loaded and gave no display",
            vendor.conf("egl/10_nvidia.json"),
            vendor.lib(&format!("nvidia/current/libEGL_nvidia.so.{version}"))
        )]
    );
}

/// Every vendor package in front of the loaders at once, next to this machine's real software
/// devices: PoCL, lavapipe and llvmpipe stay validated, the vendor drivers are named.
fn all_drivers(vendor: &Vendor, scratch: &Path) -> Vec<(&'static str, String)> {
    let icds = scratch.join("icds");
    std::fs::create_dir_all(&icds).unwrap();
    for icd in ["nvidia.icd", "intel.icd", "mesa.icd", "rusticl.icd"] {
        std::fs::copy(vendor.dir.join("conf/opencl").join(icd), icds.join(icd)).unwrap();
    }
    std::fs::copy("/etc/OpenCL/vendors/pocl.icd", icds.join("pocl.icd"))
        .expect("PoCL's ICD (pocl-opencl-icd, installed by scripts/test.sh)");
    vec![
        ("OCL_ICD_VENDORS", icds.display().to_string()),
        (
            "VK_DRIVER_FILES",
            format!(
                "{}:/usr/share/vulkan/icd.d/lvp_icd.x86_64.json",
                vendor.conf("vulkan/nvidia_icd.json")
            ),
        ),
        (
            "__EGL_VENDOR_LIBRARY_FILENAMES",
            format!(
                "{}:/usr/share/glvnd/egl_vendor.d/50_mesa.json",
                vendor.conf("egl/10_nvidia.json")
            ),
        ),
    ]
}

const MATRIX_BACKENDS: &str = "cpu,opencl,vulkan,cuda,hip,level_zero,egl,nvcodec";

#[test]
fn vendor_drivers_next_to_software_devices_keep_them_validated() {
    let Some(vendor) = vendor() else { return };
    let scratch = support::scratch_dir("vendor-all");
    let env = all_drivers(vendor, &scratch);
    let icds = scratch.join("icds");
    let version = vendor.upstream("libcuda1");
    for level in ["quick", "standard"] {
        let (report, dev) = probe(vendor, MATRIX_BACKENDS, level, &env);
        let proven = if level == "quick" {
            "enumerated"
        } else {
            "validated"
        };
        let expect = [
            ("cpu", proven, "-"),
            ("opencl", proven, "-"),
            ("vulkan", proven, "-"),
            ("cuda", "absent", "no-device"),
            ("hip", "absent", "no-device"),
            ("level_zero", "absent", "no-device"),
            ("egl", proven, "-"),
            ("nvcodec", "absent", "no-device"),
        ];
        for (name, status, code) in expect {
            assert_eq!(
                status_and_code(&report, name),
                (status.to_owned(), code.to_owned()),
                "{level} {name}: {:#}",
                backend(&report, name)
            );
        }
        let devices = |name: &str| -> Vec<(String, String, String)> {
            backend(&report, name)["devices"]
                .as_array()
                .unwrap()
                .iter()
                .map(|d| {
                    (
                        d["name"].as_str().unwrap().to_owned(),
                        d["kind"].as_str().unwrap().to_owned(),
                        d["status"].as_str().unwrap().to_owned(),
                    )
                })
                .collect()
        };
        for name in ["opencl", "vulkan", "egl"] {
            let found = devices(name);
            assert_eq!(found.len(), 1, "{level} {name}: {found:?}");
            assert_eq!(found[0].1, "software", "{level} {name}: {found:?}");
            assert_eq!(found[0].2, proven, "{level} {name}: {found:?}");
        }
        assert!(devices("opencl")[0].0.starts_with("pthread-"));
        assert!(devices("vulkan")[0].0.starts_with("llvmpipe"));
        assert!(devices("egl")[0].0.starts_with("llvmpipe"));

        let opencl = warnings(&report, "opencl");
        let nvidia_lib = vendor.lib(&format!("nvidia/current/libnvidia-opencl.so.{version}"));
        assert_eq!(
            opencl,
            [
                format!(
                    "OpenCL ICD {} ({}) gave the ICD loader no platform, so it was dropped: \
                     clIcdGetPlatformIDsKHR returned -6 (CL_OUT_OF_HOST_MEMORY)",
                    icds.join("intel.icd").display(),
                    vendor.lib("intel-opencl/libigdrcl.so")
                ),
                format!(
                    "OpenCL ICD {} ({nvidia_lib}) gave the ICD loader no platform, so it was \
                     dropped: clIcdGetPlatformIDsKHR returned -1 (CL_DEVICE_NOT_FOUND)",
                    icds.join("nvidia.icd").display()
                ),
                format!(
                    "OpenCL platform \"rusticl\" (ICD {}, {}) lists no device: clGetDeviceIDs \
                     found none (CL_DEVICE_NOT_FOUND); platform version \"OpenCL 3.0\"",
                    icds.join("rusticl.icd").display(),
                    vendor.lib("libRusticlOpenCL.so.1.0.0")
                ),
                format!(
                    "OpenCL platform \"Clover\" (ICD {}, {}) lists no device: clGetDeviceIDs \
                     found none (CL_DEVICE_NOT_FOUND); platform version \"OpenCL 1.1 Mesa {}\"",
                    icds.join("mesa.icd").display(),
                    vendor.lib("libMesaOpenCL.so.1.0.0"),
                    vendor.upstream("mesa-opencl-icd")
                ),
            ],
            "{level}"
        );
        let vulkan = warnings(&report, "vulkan");
        assert_eq!(vulkan.len(), 1, "{level}: {vulkan:#?}");
        assert!(vulkan[0].starts_with(&format!(
            "Vulkan driver manifest {} (",
            vendor.conf("vulkan/nvidia_icd.json")
        )));
        assert!(
            vulkan[0].contains("Could not get 'vkCreateInstance' via 'vk_icdGetInstanceProcAddr'")
        );
        assert_eq!(
            warnings(&report, "egl"),
            [format!(
                "EGL vendor file {} ({}): the vendor library loaded and gave no display",
                vendor.conf("egl/10_nvidia.json"),
                vendor.lib(&format!("nvidia/current/libEGL_nvidia.so.{version}"))
            )],
            "{level}"
        );
        let caps = capability_names(&report);
        for gpu in [
            "gpu",
            "opencl-gpu",
            "vulkan-gpu",
            "cuda",
            "cuda-arch",
            "nvenc-h264",
        ] {
            assert!(
                !caps
                    .iter()
                    .any(|c| c == gpu || c.starts_with(&format!("{gpu} "))),
                "{level}: {gpu} in {caps:?}"
            );
        }
        assert!(caps.contains(&"opencl (= 3.0)".to_owned()), "{caps:?}");
        assert!(caps.iter().any(|c| c.starts_with("vulkan (= ")), "{caps:?}");
        assert!(caps.iter().any(|c| c.starts_with("egl (= ")), "{caps:?}");
        assert!(dev.contains(&"nvidiactl".to_owned()), "{dev:?}");

        if let Some(out) = std::env::var_os("HWSPEC_VENDOR_REPORTS") {
            let file =
                Path::new(&out).join(format!("debian12-x86_64-nvidia535-intel-mesa-{level}.json"));
            std::fs::write(file, serde_json::to_string_pretty(&report).unwrap()).unwrap();
        }
    }
}

#[test]
fn explain_names_the_dropped_drivers_when_a_gpu_requirement_fails() {
    let Some(vendor) = vendor() else { return };
    let scratch = support::scratch_dir("vendor-explain");
    let env = all_drivers(vendor, &scratch);
    let check = |requirement: &str| {
        let done = private(
            vendor,
            &["check", "--explain", "--fresh", "--trust-env", requirement],
            &env,
        );
        assert_eq!(done.run.code, Some(1), "{requirement}: {:?}", done.run);
        done.run.stdout
    };
    let vulkan = check("vulkan-gpu");
    assert!(
        vulkan.contains("dropped drivers: Vulkan driver manifest"),
        "{vulkan}"
    );
    assert!(vulkan.contains("nvidia_icd.json"), "{vulkan}");
    let opencl = check("opencl-gpu");
    assert!(opencl.contains("nvidia.icd"), "{opencl}");
    assert!(opencl.contains("intel.icd"), "{opencl}");
    assert!(opencl.contains("\"Clover\""), "{opencl}");
    let egl_gpu = check("gpu");
    assert!(
        egl_gpu.contains("nvidia_icd.json") && egl_gpu.contains("nvidia.icd"),
        "{egl_gpu}"
    );
}

#[test]
fn cuda_visible_devices_over_the_real_libcuda_without_a_gpu_is_no_device() {
    let Some(vendor) = vendor() else { return };
    // libcuda leaves /dev/nvidiactl behind, but no GPU is on the PCI bus: nothing is hidden.
    for value in ["", "-1", "GPU-00000000-0000-0000-0000-000000000000"] {
        let mut env = nvidia_only(vendor);
        env.push(("CUDA_VISIBLE_DEVICES", value.to_owned()));
        let (report, _) = probe(vendor, "cuda", "standard", &env);
        assert_eq!(
            status_and_code(&report, "cuda"),
            ("absent".into(), "no-device".into()),
            "CUDA_VISIBLE_DEVICES={value:?}: {:#}",
            backend(&report, "cuda")
        );
        assert_eq!(
            report["host"]["environment"]["CUDA_VISIBLE_DEVICES"].as_str(),
            Some(value)
        );
    }
}
