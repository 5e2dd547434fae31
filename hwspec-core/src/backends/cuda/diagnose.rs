//! Pure functions from what the driver returned and what the machine shows to a state and a
//! reason, plus the formatting of the driver's numbers. No I/O: every branch is unit-tested
//! from made-up facts.

use std::path::Path;

use cudarc::driver::sys::CUresult;

use super::driver::CuError;
use super::evidence::{is_dotted_number, Evidence, CONTROL_NODE, UVM_NODE};
use super::loader::RawResult;
use crate::model::{Reason, ReasonCode, Status};

/// The variable through which CUDA hides devices from a process.
pub(super) const VISIBLE_DEVICES_ENV: &str = "CUDA_VISIBLE_DEVICES";

const STUB_LIBRARY: RawResult = CUresult::CUDA_ERROR_STUB_LIBRARY as RawResult;
const NO_DEVICE: RawResult = CUresult::CUDA_ERROR_NO_DEVICE as RawResult;
const SYSTEM_DRIVER_MISMATCH: RawResult = CUresult::CUDA_ERROR_SYSTEM_DRIVER_MISMATCH as RawResult;
const COMPAT_NOT_SUPPORTED: RawResult =
    CUresult::CUDA_ERROR_COMPAT_NOT_SUPPORTED_ON_DEVICE as RawResult;
const UNKNOWN: RawResult = CUresult::CUDA_ERROR_UNKNOWN as RawResult;

/// The loaded libcuda, as far as the report needs it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Library {
    /// The file the dynamic loader mapped.
    pub path: String,
    /// The driver version in its file name (`libcuda.so.550.54.15`), where it has one.
    pub version: Option<String>,
}

impl Library {
    pub(super) fn new(path: String) -> Library {
        let version = library_version(&path);
        Library { path, version }
    }

    /// A forward-compatibility libcuda (the `cuda-compat` package installs it under a
    /// `compat` directory) is newer than the kernel module on purpose.
    fn is_compat(&self) -> bool {
        Path::new(&self.path)
            .components()
            .any(|c| c.as_os_str() == "compat")
    }
}

/// The driver version in a libcuda file name: `libcuda.so.550.54.15` gives `550.54.15`; the
/// bare soname `libcuda.so.1` gives none.
pub(super) fn library_version(path: &str) -> Option<String> {
    let file = path.rsplit('/').next()?;
    let version = file.strip_prefix("libcuda.so.")?;
    is_dotted_number(version).then(|| version.to_owned())
}

/// `major.minor` of the CUDA version the driver encodes as `1000 * major + 10 * minor`.
pub(super) fn cuda_version(encoded: i32) -> String {
    format!("{}.{}", encoded / 1000, (encoded % 1000) / 10)
}

/// A UUID as nvidia-smi and `CUDA_VISIBLE_DEVICES` spell it, e.g. `GPU-5f1c...`.
pub(super) fn format_uuid(prefix: &str, bytes: &[u8; 16]) -> String {
    let hex: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
    format!(
        "{prefix}-{}-{}-{}-{}-{}",
        &hex[0..8],
        &hex[8..12],
        &hex[12..16],
        &hex[16..20],
        &hex[20..32]
    )
}

/// The kernel module and libcuda versions when both are known and differ and the library is
/// not a forward-compatibility one: the state after a driver upgrade without a reboot.
pub(super) fn driver_mismatch<'a>(
    evidence: &'a Evidence,
    library: &'a Library,
) -> Option<(&'a str, &'a str)> {
    let module = evidence.module_version()?;
    let user_space = library.version.as_deref()?;
    (module != user_space && !library.is_compat()).then_some((module, user_space))
}

/// The state and reason for a failed `cuInit`, from the error, the evidence gathered before
/// it, and `CUDA_VISIBLE_DEVICES`.
pub(super) fn init_failure(
    error: &CuError,
    library: &Library,
    evidence: &Evidence,
    visible_devices: Option<&str>,
) -> (Status, Reason) {
    let unusable = |code, message: String| (Status::Unusable, Reason::new(code, message));
    if error.code == STUB_LIBRARY {
        return unusable(
            ReasonCode::StubLibrary,
            format!(
                "{} is the CUDA toolkit's stub library, not the driver's: {error}",
                library.path
            ),
        );
    }
    if let Some((module, user_space)) = driver_mismatch(evidence, library) {
        return unusable(
            ReasonCode::DriverMismatch,
            format!(
                "the nvidia kernel module is {module} but {} is {user_space}: \
                 reboot needed (or reload the module); {error}",
                library.path
            ),
        );
    }
    if error.code == SYSTEM_DRIVER_MISMATCH || error.code == COMPAT_NOT_SUPPORTED {
        return unusable(
            ReasonCode::CompatRefused,
            format!(
                "the driver refused {} with kernel module {}: {error}",
                library.path,
                evidence.module_version().unwrap_or("of unknown version")
            ),
        );
    }
    if let Some(node) = evidence.nodes.iter().find(|node| !node.accessible) {
        return unusable(
            ReasonCode::PermissionDenied,
            format!(
                "{} is not readable and writable by this user (group {}): {error}",
                node.path, node.group
            ),
        );
    }
    if error.code == NO_DEVICE {
        return no_devices(evidence, visible_devices, &error.to_string());
    }
    if error.code == UNKNOWN && !evidence.wsl {
        let missing = [CONTROL_NODE, UVM_NODE]
            .into_iter()
            .find(|node| !evidence.has_node(node));
        if let Some(node) = missing {
            return unusable(
                ReasonCode::MissingDeviceNode,
                format!("{node} does not exist: {error}"),
            );
        }
    }
    unusable(ReasonCode::DriverError, error.to_string())
}

/// The state and reason when the driver exposes no device: `hidden-by-env` when
/// `CUDA_VISIBLE_DEVICES` is set and the PCI bus has NVIDIA GPUs, otherwise `no-device`. Device
/// nodes decide nothing here: libcuda creates them as root whether or not a GPU exists.
pub(super) fn no_devices(
    evidence: &Evidence,
    visible_devices: Option<&str>,
    what: &str,
) -> (Status, Reason) {
    match visible_devices {
        Some(value) if !evidence.pci_gpus.is_empty() => (
            Status::Unusable,
            Reason::new(
                ReasonCode::HiddenByEnv,
                format!(
                    "{VISIBLE_DEVICES_ENV}={value:?} hides every GPU although the PCI bus has \
                     NVIDIA GPU(s) at {}: {what}",
                    evidence.pci_gpus.join(", ")
                ),
            ),
        ),
        _ => (
            Status::Absent,
            Reason::new(ReasonCode::NoDevice, format!("no CUDA device: {what}")),
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::super::evidence::Node;
    use super::*;

    fn error(code: RawResult, name: &str) -> CuError {
        CuError {
            call: "cuInit",
            code,
            name: Some(name.to_owned()),
        }
    }

    fn node(path: &str) -> Node {
        Node {
            path: path.to_owned(),
            accessible: true,
            group: "root".to_owned(),
        }
    }

    /// A healthy machine with one GPU and driver 550.54.15.
    fn healthy() -> Evidence {
        Evidence {
            proc_driver_version: Some("550.54.15".into()),
            kernel_module_version: Some("550.54.15".into()),
            nodes: vec![node(CONTROL_NODE), node(UVM_NODE), node("/dev/nvidia0")],
            wsl: false,
            pci_gpus: vec!["0000:17:00.0".into()],
        }
    }

    fn driver_library() -> Library {
        Library::new("/usr/lib/x86_64-linux-gnu/libcuda.so.550.54.15".into())
    }

    fn classify(code: RawResult, name: &str, evidence: &Evidence) -> (Status, Reason) {
        init_failure(&error(code, name), &driver_library(), evidence, None)
    }

    #[test]
    fn versions_are_formatted_as_nvidia_does() {
        assert_eq!(cuda_version(12080), "12.8");
        assert_eq!(cuda_version(11040), "11.4");
        assert_eq!(cuda_version(13000), "13.0");
        assert_eq!(cuda_version(12020), "12.2");
        let uuid = [
            0x5f, 0x1c, 0x2a, 0x93, 0x0b, 0x44, 0x7e, 0x01, 0x9a, 0xbc, 0xde, 0xf0, 0x12, 0x34,
            0x56, 0x78,
        ];
        assert_eq!(
            format_uuid("GPU", &uuid),
            "GPU-5f1c2a93-0b44-7e01-9abc-def012345678"
        );
    }

    #[test]
    fn library_versions_come_from_the_file_name() {
        assert_eq!(
            library_version("/usr/lib/x86_64-linux-gnu/libcuda.so.550.54.15").as_deref(),
            Some("550.54.15")
        );
        assert_eq!(library_version("/usr/lib/wsl/lib/libcuda.so.1"), None);
        assert_eq!(library_version("/usr/lib/libcuda.so"), None);
        assert_eq!(library_version("/tmp/libnvcuda.so.1.2"), None);
    }

    #[test]
    fn a_mismatch_needs_both_versions_to_differ_and_no_compat_library() {
        let library = driver_library();
        assert_eq!(driver_mismatch(&healthy(), &library), None);
        let mut old_module = healthy();
        old_module.kernel_module_version = Some("535.161.07".into());
        assert_eq!(
            driver_mismatch(&old_module, &library),
            Some(("535.161.07", "550.54.15"))
        );
        let compat = Library::new("/usr/local/cuda-12.4/compat/libcuda.so.550.54.15".into());
        assert_eq!(driver_mismatch(&old_module, &compat), None);
        assert_eq!(driver_mismatch(&Evidence::default(), &library), None);
        let wsl = Library::new("/usr/lib/wsl/lib/libcuda.so.1".into());
        assert_eq!(driver_mismatch(&old_module, &wsl), None);
        let proc_only = Evidence {
            proc_driver_version: Some("535.161.07".into()),
            ..Evidence::default()
        };
        assert!(driver_mismatch(&proc_only, &library).is_some());
    }

    #[test]
    fn error_34_is_the_stub_library() {
        let stub = Library::new("/usr/local/cuda/lib64/stubs/libcuda.so.1".into());
        let (status, reason) = init_failure(
            &error(34, "CUDA_ERROR_STUB_LIBRARY"),
            &stub,
            &healthy(),
            None,
        );
        assert_eq!(status, Status::Unusable);
        assert_eq!(reason.code, ReasonCode::StubLibrary);
        assert!(reason
            .message
            .contains("/usr/local/cuda/lib64/stubs/libcuda.so.1"));
        assert!(reason.message.contains("34"), "{}", reason.message);
    }

    #[test]
    fn differing_versions_with_a_failed_init_need_a_reboot() {
        let mut evidence = healthy();
        evidence.kernel_module_version = Some("535.161.07".into());
        let (status, reason) = classify(803, "CUDA_ERROR_SYSTEM_DRIVER_MISMATCH", &evidence);
        assert_eq!(status, Status::Unusable);
        assert_eq!(reason.code, ReasonCode::DriverMismatch);
        assert!(
            reason.message.contains("reboot needed"),
            "{}",
            reason.message
        );
        assert!(reason.message.contains("535.161.07"));
        assert!(reason.message.contains("550.54.15"));
    }

    #[test]
    fn errors_803_and_804_with_matching_versions_are_a_refused_compat_library() {
        for (code, name) in [
            (803, "CUDA_ERROR_SYSTEM_DRIVER_MISMATCH"),
            (804, "CUDA_ERROR_COMPAT_NOT_SUPPORTED_ON_DEVICE"),
        ] {
            let (status, reason) = classify(code, name, &healthy());
            assert_eq!(status, Status::Unusable);
            assert_eq!(reason.code, ReasonCode::CompatRefused, "{code}");
            assert!(reason.message.contains(name), "{}", reason.message);
        }
        let compat = Library::new("/usr/local/cuda-12.4/compat/libcuda.so.560.28.03".into());
        let mut old_module = healthy();
        old_module.kernel_module_version = Some("535.161.07".into());
        let (_, reason) = init_failure(
            &error(804, "CUDA_ERROR_COMPAT_NOT_SUPPORTED_ON_DEVICE"),
            &compat,
            &old_module,
            None,
        );
        assert_eq!(reason.code, ReasonCode::CompatRefused);
    }

    #[test]
    fn error_999_names_the_missing_node() {
        let mut evidence = healthy();
        evidence.nodes.retain(|n| n.path != UVM_NODE);
        let (status, reason) = classify(999, "CUDA_ERROR_UNKNOWN", &evidence);
        assert_eq!(status, Status::Unusable);
        assert_eq!(reason.code, ReasonCode::MissingDeviceNode);
        assert!(reason.message.starts_with(UVM_NODE), "{}", reason.message);

        let (_, reason) = classify(999, "CUDA_ERROR_UNKNOWN", &healthy());
        assert_eq!(reason.code, ReasonCode::DriverError);

        let mut wsl = Evidence {
            wsl: true,
            ..Evidence::default()
        };
        let (_, reason) = classify(999, "CUDA_ERROR_UNKNOWN", &wsl);
        assert_eq!(reason.code, ReasonCode::DriverError, "WSL has no nodes");
        wsl.wsl = false;
        let (_, reason) = classify(999, "CUDA_ERROR_UNKNOWN", &wsl);
        assert!(
            reason.message.starts_with(CONTROL_NODE),
            "{}",
            reason.message
        );
    }

    #[test]
    fn an_inaccessible_node_is_permission_denied_with_its_group() {
        let mut evidence = healthy();
        evidence.nodes[2].accessible = false;
        evidence.nodes[2].group = "video".into();
        let (status, reason) = classify(100, "CUDA_ERROR_NO_DEVICE", &evidence);
        assert_eq!(status, Status::Unusable);
        assert_eq!(reason.code, ReasonCode::PermissionDenied);
        assert!(
            reason.message.contains("/dev/nvidia0"),
            "{}",
            reason.message
        );
        assert!(reason.message.contains("video"), "{}", reason.message);
    }

    #[test]
    fn no_device_is_absent_unless_the_environment_hides_present_gpus() {
        let (status, reason) = classify(100, "CUDA_ERROR_NO_DEVICE", &Evidence::default());
        assert_eq!(status, Status::Absent);
        assert_eq!(reason.code, ReasonCode::NoDevice);
        assert!(reason.message.contains("CUDA_ERROR_NO_DEVICE"));

        let (status, reason) = init_failure(
            &error(100, "CUDA_ERROR_NO_DEVICE"),
            &driver_library(),
            &healthy(),
            Some(""),
        );
        assert_eq!(status, Status::Unusable);
        assert_eq!(reason.code, ReasonCode::HiddenByEnv);
        assert!(
            reason.message.contains("CUDA_VISIBLE_DEVICES=\"\""),
            "{}",
            reason.message
        );
        assert!(
            reason.message.contains("0000:17:00.0"),
            "{}",
            reason.message
        );

        let (_, reason) = no_devices(&healthy(), Some("GPU-bogus"), "0 devices");
        assert!(
            reason.message.contains("\"GPU-bogus\""),
            "{}",
            reason.message
        );
        let (status, reason) = no_devices(&Evidence::default(), Some("0"), "0 devices");
        assert_eq!(status, Status::Absent, "set, but no GPU to hide");
        assert_eq!(reason.code, ReasonCode::NoDevice);
        // What libcuda leaves behind as root on a machine without a GPU: nodes, no hardware.
        let nodes_only = Evidence {
            pci_gpus: Vec::new(),
            ..healthy()
        };
        let (status, reason) = no_devices(&nodes_only, Some(""), "0 devices");
        assert_eq!(status, Status::Absent, "a device node is not a device");
        assert_eq!(reason.code, ReasonCode::NoDevice);
        let (status, _) = no_devices(&healthy(), None, "0 devices");
        assert_eq!(status, Status::Absent);
    }

    #[test]
    fn other_errors_are_driver_errors_with_name_and_number() {
        let (status, reason) = classify(3, "CUDA_ERROR_NOT_INITIALIZED", &healthy());
        assert_eq!(status, Status::Unusable);
        assert_eq!(reason.code, ReasonCode::DriverError);
        assert_eq!(
            reason.message,
            "cuInit returned 3 (CUDA_ERROR_NOT_INITIALIZED)"
        );
        let unnamed = CuError {
            call: "cuInit",
            code: 4242,
            name: None,
        };
        let (_, reason) = init_failure(&unnamed, &driver_library(), &healthy(), None);
        assert_eq!(reason.message, "cuInit returned CUDA error 4242");
    }
}
