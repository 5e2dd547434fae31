//! What the machine and the driver say, and what that means: the NVIDIA kernel driver's
//! facts read before libcuda is touched (the kernel module's version, the device nodes, the
//! PCI bus), and pure functions from a driver's answer and those facts to a state and a
//! reason, plus the formatting of the driver's numbers. The facts decide the reason when
//! `cuInit` fails, and they are the report's evidence when it does not; every branch of the
//! diagnosis is unit-tested from made-up facts.

use std::fs;
use std::os::unix::fs::MetadataExt;
use std::path::Path;

use cudarc::driver::sys::CUresult;

use crate::backends::common::CallError;
use crate::model::{Reason, ReasonCode, Status};

/// The control node every CUDA process opens first.
pub(super) const CONTROL_NODE: &str = "/dev/nvidiactl";
/// The unified-memory node; without it `cuInit` fails with `CUDA_ERROR_UNKNOWN` (999).
pub(super) const UVM_NODE: &str = "/dev/nvidia-uvm";
/// Present under WSL, where the GPU is reached through the Windows driver, not `/dev/nvidia*`.
const WSL_NODE: &str = "/dev/dxg";

const NVIDIA_PCI_VENDOR: &str = "0x10de";

const PROC_VERSION: &str = "/proc/driver/nvidia/version";
const SYS_MODULE_VERSION: &str = "/sys/module/nvidia/version";

/// One `/dev/nvidia*` node that exists.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Node {
    pub path: String,
    /// Whether this process may open it for reading and writing.
    pub accessible: bool,
    /// Its group, by name where `/etc/group` has one.
    pub group: String,
}

/// Facts about the NVIDIA kernel driver.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(super) struct Evidence {
    /// The version in `/proc/driver/nvidia/version`.
    pub proc_driver_version: Option<String>,
    /// The contents of `/sys/module/nvidia/version`.
    pub kernel_module_version: Option<String>,
    /// Every `/dev/nvidia*` node of interest that exists, in a stable order.
    pub nodes: Vec<Node>,
    /// Whether this is WSL, where there are no `/dev/nvidia*` nodes by design.
    pub wsl: bool,
    /// PCI addresses of NVIDIA display controllers: the evidence that GPUs exist. Device
    /// nodes are not (libcuda creates `/dev/nvidiactl` as root without any GPU).
    pub pci_gpus: Vec<String>,
}

impl Evidence {
    /// Reads the facts from this machine.
    pub(super) fn gather() -> Evidence {
        let groups = crate::sys::etc_group();
        let nodes = node_paths()
            .into_iter()
            .filter_map(|path| {
                let meta = fs::metadata(&path).ok()?;
                Some(Node {
                    accessible: crate::host::may_read_write(Path::new(&path)),
                    group: crate::sys::group_name(&groups, meta.gid()),
                    path,
                })
            })
            .collect();
        Evidence {
            proc_driver_version: read_small(PROC_VERSION)
                .and_then(|text| parse_proc_version(&text)),
            kernel_module_version: read_small(SYS_MODULE_VERSION)
                .map(|text| text.trim().to_owned())
                .filter(|version| !version.is_empty()),
            nodes,
            wsl: Path::new(WSL_NODE).exists(),
            pci_gpus: crate::host::pci_display_devices(NVIDIA_PCI_VENDOR),
        }
    }

    /// The `/dev/nvidia*` nodes that exist now but did not when these facts were gathered:
    /// what libcuda created (as root it makes `/dev/nvidiactl` even without a GPU).
    pub(super) fn created_since(&self) -> Vec<String> {
        node_paths()
            .into_iter()
            .filter(|path| Path::new(path).exists() && !self.has_node(path))
            .collect()
    }

    /// The kernel module's version from whichever file gave it.
    pub(super) fn module_version(&self) -> Option<&str> {
        self.kernel_module_version
            .as_deref()
            .or(self.proc_driver_version.as_deref())
    }

    /// Whether the node at `path` exists.
    pub(super) fn has_node(&self, path: &str) -> bool {
        self.nodes.iter().any(|node| node.path == path)
    }

    /// For the report: each fact under its own key, with the file it came from implied.
    pub(super) fn properties(&self) -> Vec<(&'static str, String)> {
        let mut props = Vec::new();
        if let Some(version) = &self.kernel_module_version {
            props.push(("kernel_module_version", version.clone()));
        }
        if let Some(version) = &self.proc_driver_version {
            props.push(("proc_driver_version", version.clone()));
        }
        let nodes: Vec<&str> = self.nodes.iter().map(|n| n.path.as_str()).collect();
        props.push((
            "device_nodes",
            if nodes.is_empty() {
                "none".to_owned()
            } else {
                nodes.join(", ")
            },
        ));
        if self.wsl {
            props.push(("wsl", WSL_NODE.to_owned()));
        }
        props.push((
            "pci_gpus",
            if self.pci_gpus.is_empty() {
                "none".to_owned()
            } else {
                self.pci_gpus.join(", ")
            },
        ));
        props
    }
}

/// The nodes of interest: the control and unified-memory nodes, then every `/dev/nvidiaN`.
fn node_paths() -> Vec<String> {
    let mut paths = vec![CONTROL_NODE.to_owned(), UVM_NODE.to_owned()];
    paths.extend(gpu_nodes(
        fs::read_dir("/dev")
            .into_iter()
            .flatten()
            .filter_map(|entry| entry.ok()?.file_name().into_string().ok()),
    ));
    paths
}

/// A one-line kernel file (`/proc/driver/nvidia/version`, `/sys/module/nvidia/version`), read
/// without blocking and with a bound.
fn read_small(path: &str) -> Option<String> {
    crate::sys::read_regular_text(Path::new(path), crate::sys::SMALL_FILE_BYTES).ok()
}

fn is_gpu_node(name: &str) -> bool {
    name.strip_prefix("nvidia")
        .is_some_and(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()))
}

/// `/dev/nvidiaN` paths among the names in `/dev`, in numeric order.
pub(super) fn gpu_nodes(names: impl Iterator<Item = String>) -> Vec<String> {
    let mut numbers: Vec<u32> = names
        .filter(|name| is_gpu_node(name))
        .filter_map(|name| name["nvidia".len()..].parse().ok())
        .collect();
    numbers.sort_unstable();
    numbers
        .into_iter()
        .map(|n| format!("/dev/nvidia{n}"))
        .collect()
}

/// The driver version in the text of `/proc/driver/nvidia/version`: the first dotted number
/// after "Kernel Module" (the open module writes "Open Kernel Module for x86_64  550.54.15").
pub(super) fn parse_proc_version(text: &str) -> Option<String> {
    let line = text
        .lines()
        .find(|line| line.starts_with("NVRM version:"))?;
    let (_, rest) = line.split_once("Kernel Module")?;
    rest.split_whitespace()
        .find(|word| is_dotted_number(word))
        .map(str::to_owned)
}

/// Whether `s` is two or more dot-separated decimal numbers.
pub(super) fn is_dotted_number(s: &str) -> bool {
    let parts: Vec<&str> = s.split('.').collect();
    parts.len() >= 2
        && parts
            .iter()
            .all(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()))
}

/// The variable through which CUDA hides devices from a process.
pub(super) const VISIBLE_DEVICES_ENV: &str = "CUDA_VISIBLE_DEVICES";

const STUB_LIBRARY: i64 = CUresult::CUDA_ERROR_STUB_LIBRARY as i64;
const NO_DEVICE: i64 = CUresult::CUDA_ERROR_NO_DEVICE as i64;
const SYSTEM_DRIVER_MISMATCH: i64 = CUresult::CUDA_ERROR_SYSTEM_DRIVER_MISMATCH as i64;
const COMPAT_NOT_SUPPORTED: i64 = CUresult::CUDA_ERROR_COMPAT_NOT_SUPPORTED_ON_DEVICE as i64;
const UNKNOWN: i64 = CUresult::CUDA_ERROR_UNKNOWN as i64;

/// The loaded libcuda, as far as the report needs it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Libcuda {
    /// The file the dynamic loader mapped.
    pub path: String,
    /// The driver version in its file name (`libcuda.so.550.54.15`), where it has one.
    pub version: Option<String>,
}

impl Libcuda {
    pub(super) fn new(path: String) -> Libcuda {
        let version = library_version(&path);
        Libcuda { path, version }
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
    library: &'a Libcuda,
) -> Option<(&'a str, &'a str)> {
    let module = evidence.module_version()?;
    let user_space = library.version.as_deref()?;
    (module != user_space && !library.is_compat()).then_some((module, user_space))
}

/// The state and reason for a failed `cuInit`, from the error, the evidence gathered before
/// it, and `CUDA_VISIBLE_DEVICES`.
pub(super) fn init_failure(
    error: &CallError,
    library: &Libcuda,
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
