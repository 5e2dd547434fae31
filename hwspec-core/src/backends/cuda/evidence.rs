//! What the operating system says about the NVIDIA driver, read before libcuda is touched:
//! the kernel module's version and the device nodes. These decide the reason when `cuInit`
//! fails, and they are the report's evidence when it does not.

use std::fs;
use std::os::unix::fs::MetadataExt;
use std::path::Path;

use super::loader;

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
                    accessible: loader::may_read_write(Path::new(&path)),
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
fn gpu_nodes(names: impl Iterator<Item = String>) -> Vec<String> {
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn proc_version_of_the_proprietary_and_open_modules() {
        let proprietary = "NVRM version: NVIDIA UNIX x86_64 Kernel Module  550.54.15  Tue Mar  5 22:23:56 UTC 2024\nGCC version:  gcc version 12.2.0 (Debian 12.2.0-14)\n";
        assert_eq!(
            parse_proc_version(proprietary).as_deref(),
            Some("550.54.15")
        );
        let open = "NVRM version: NVIDIA UNIX Open Kernel Module for x86_64  560.35.03  Release Build  (dvs-builder@U16-I3-B03-4-3)  Fri Aug 16 21:42:42 UTC 2024\n";
        assert_eq!(parse_proc_version(open).as_deref(), Some("560.35.03"));
        assert_eq!(parse_proc_version("GCC version: 12.2.0\n"), None);
        assert_eq!(
            parse_proc_version("NVRM version: NVIDIA UNIX Kernel Module\n"),
            None
        );
    }

    #[test]
    fn gpu_nodes_are_numbered_nvidia_nodes_in_numeric_order() {
        let names = [
            "nvidia10",
            "nvidiactl",
            "nvidia-uvm",
            "nvidia2",
            "nvidia",
            "null",
        ];
        assert_eq!(
            gpu_nodes(names.iter().map(|n| n.to_string())),
            ["/dev/nvidia2", "/dev/nvidia10"]
        );
    }

    #[test]
    fn groups_are_named_from_etc_group() {
        let groups = "root:x:0:\nvideo:x:44:alice\nrender:x:105:\n";
        assert_eq!(crate::sys::group_name(groups, 44), "video");
        assert_eq!(crate::sys::group_name(groups, 105), "render");
        assert_eq!(crate::sys::group_name(groups, 7), "gid 7");
        assert_eq!(crate::sys::group_name("garbage\n", 0), "gid 0");
    }

    #[test]
    fn evidence_names_its_facts() {
        let evidence = Evidence {
            proc_driver_version: Some("550.54.15".into()),
            kernel_module_version: Some("550.54.15".into()),
            nodes: vec![Node {
                path: CONTROL_NODE.into(),
                accessible: true,
                group: "root".into(),
            }],
            wsl: false,
            pci_gpus: vec!["0000:17:00.0".into()],
        };
        let props = evidence.properties();
        assert!(props.contains(&("pci_gpus", "0000:17:00.0".into())));
        assert!(props.contains(&("kernel_module_version", "550.54.15".into())));
        assert!(props.contains(&("device_nodes", CONTROL_NODE.into())));
        assert!(Evidence::default()
            .properties()
            .contains(&("device_nodes", "none".into())));
    }
}
