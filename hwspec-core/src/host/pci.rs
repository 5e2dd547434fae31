//! PCI devices: which GPUs the kernel lists, and the device node through which each is used,
//! found from its bus id.
//!
//! A scheduler that hands GPUs to jobs (Slurm's `gres.conf` `File=`) names them by device node,
//! while runtimes name them by ordinal and PCI bus id. The worker that validated a device looks
//! the node up on the machine it ran on, so the report carries it as evidence and an export
//! rendered elsewhere (a replayed report) says where the device was, not where it is rendered.
//!
//! Two lookups, the ones Slurm's own GPU plugins use: the NVIDIA driver's minor number
//! (`/proc/driver/nvidia/gpus/<bus id>/information`, `Device Minor:`) gives `/dev/nvidia<N>`;
//! the DRM driver's render node (`/sys/bus/pci/devices/<bus id>/drm/renderD<N>`) gives
//! `/dev/dri/renderD<N>`, which AMD's and Intel's runtimes open.

use std::path::{Path, PathBuf};

/// `/proc/driver/nvidia/gpus/*/information` is a few hundred bytes.
const INFORMATION_LIMIT: u64 = 16 * 1024;

/// Where the kernel's views of devices are; tests point these at a fixture tree.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct HostRoots {
    /// procfs, normally `/proc`.
    pub proc_dir: PathBuf,
    /// sysfs, normally `/sys`.
    pub sys_dir: PathBuf,
    /// the device directory, normally `/dev`.
    pub dev_dir: PathBuf,
}

impl HostRoots {
    /// The running system's `/proc`, `/sys` and `/dev`.
    pub fn system() -> HostRoots {
        HostRoots {
            proc_dir: PathBuf::from("/proc"),
            sys_dir: PathBuf::from("/sys"),
            dev_dir: PathBuf::from("/dev"),
        }
    }
}

/// A PCI address in the kernel's spelling, `dddd:bb:dd.f` in lowercase hex (`0000:17:00.0`),
/// from any spelling a runtime uses: CUDA's (`0000:17:00.0`, upper or lower case), NVML's
/// eight-digit domain (`00000000:17:00.0`), HIP's. `None` for anything that is not a PCI
/// address, so nothing a driver says can become a path outside the device directories.
pub fn normalise_bus_id(text: &str) -> Option<String> {
    let text = text.trim();
    let (domain, rest) = text.split_once(':')?;
    let (bus, rest) = rest.split_once(':')?;
    let (device, function) = rest.split_once('.')?;
    let hex = |part: &str, digits: usize| {
        (!part.is_empty() && part.len() <= digits && part.bytes().all(|b| b.is_ascii_hexdigit()))
            .then(|| u32::from_str_radix(part, 16).ok())
            .flatten()
    };
    let domain = hex(domain, 8)?;
    let bus = hex(bus, 2)?;
    let device = hex(device, 2).filter(|&d| d < 32)?;
    let function = hex(function, 1).filter(|&f| f < 8)?;
    // The kernel prints domains with at least four digits; larger ones keep their width.
    Some(format!("{domain:04x}:{bus:02x}:{device:02x}.{function:x}"))
}

/// `/dev/nvidia<N>` for the NVIDIA GPU at `bus_id`, from the minor number the driver reports,
/// when the driver knows the device and the node exists.
pub(crate) fn nvidia_device_node(bus_id: &str, roots: &HostRoots) -> Option<PathBuf> {
    let bus_id = normalise_bus_id(bus_id)?;
    let information = roots
        .proc_dir
        .join("driver/nvidia/gpus")
        .join(&bus_id)
        .join("information");
    let text = crate::sys::read_regular_text(&information, INFORMATION_LIMIT).ok()?;
    let minor: u32 = text.lines().find_map(|line| {
        let (key, value) = line.split_once(':')?;
        (key.trim() == "Device Minor").then(|| value.trim().parse().ok())?
    })?;
    existing(roots.dev_dir.join(format!("nvidia{minor}")))
}

/// `/dev/dri/renderD<N>` for the GPU at `bus_id`, from the render node its DRM driver
/// registered in sysfs, when the node exists.
pub(crate) fn render_node(bus_id: &str, roots: &HostRoots) -> Option<PathBuf> {
    let bus_id = normalise_bus_id(bus_id)?;
    let drm = roots
        .sys_dir
        .join("bus/pci/devices")
        .join(bus_id)
        .join("drm");
    let mut nodes: Vec<String> = std::fs::read_dir(drm)
        .ok()?
        .filter_map(|entry| entry.ok()?.file_name().into_string().ok())
        .filter(|name| {
            name.strip_prefix("renderD")
                .is_some_and(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()))
        })
        .collect();
    nodes.sort();
    let name = nodes.into_iter().next()?;
    existing(roots.dev_dir.join("dri").join(name))
}

/// The PCI addresses of the display controllers (class `0x03xxxx`) of vendor `vendor_id`
/// (`0x10de` for NVIDIA), from sysfs: the kernel's own list of the hardware, which is what
/// says a GPU exists. A device node says no such thing: NVIDIA's libcuda, run as root,
/// creates `/dev/nvidiactl` on a machine without any GPU.
pub(crate) fn pci_display_devices(vendor_id: &str) -> Vec<String> {
    pci_display_devices_under(Path::new("/sys/bus/pci/devices"), vendor_id)
}

fn pci_display_devices_under(root: &Path, vendor_id: &str) -> Vec<String> {
    let read = |path: std::path::PathBuf| {
        crate::sys::read_regular_text(&path, 64)
            .map(|text| text.trim().to_ascii_lowercase())
            .unwrap_or_default()
    };
    let mut found: Vec<String> = std::fs::read_dir(root)
        .into_iter()
        .flatten()
        .filter_map(Result::ok)
        .filter(|entry| {
            read(entry.path().join("vendor")) == vendor_id
                && read(entry.path().join("class")).starts_with("0x03")
        })
        .filter_map(|entry| entry.file_name().into_string().ok())
        .collect();
    found.sort();
    found
}

fn existing(path: PathBuf) -> Option<PathBuf> {
    Path::exists(&path).then_some(path)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A fixture tree with `proc/`, `sys/` and `dev/` under a fresh directory.
    fn roots(name: &str) -> HostRoots {
        let base = std::env::temp_dir().join(format!("hwspec-pci-{}-{name}", std::process::id()));
        let _ = std::fs::remove_dir_all(&base);
        let roots = HostRoots {
            proc_dir: base.join("proc"),
            sys_dir: base.join("sys"),
            dev_dir: base.join("dev"),
        };
        for dir in [&roots.proc_dir, &roots.sys_dir, &roots.dev_dir] {
            std::fs::create_dir_all(dir).unwrap();
        }
        roots
    }

    #[test]
    fn bus_ids_are_spelled_as_the_kernel_spells_them() {
        assert_eq!(
            normalise_bus_id("0000:3B:00.0").as_deref(),
            Some("0000:3b:00.0")
        );
        assert_eq!(
            normalise_bus_id("00000000:17:00.0").as_deref(),
            Some("0000:17:00.0")
        );
        assert_eq!(
            normalise_bus_id(" 10000:c1:1f.7\n").as_deref(),
            Some("10000:c1:1f.7")
        );
        for bad in [
            "",
            "17:00.0",
            "0000:17:00",
            "0000:17:20.0",
            "0000:17:00.8",
            "0000:100:00.0",
            "../../../etc:00:00.0",
            "0000:17:00.0/../x",
            "0000:+1:00.0",
        ] {
            assert_eq!(normalise_bus_id(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn the_nvidia_minor_number_names_the_node() {
        let roots = roots("nvidia");
        let gpu = roots.proc_dir.join("driver/nvidia/gpus/0000:17:00.0");
        std::fs::create_dir_all(&gpu).unwrap();
        std::fs::write(
            gpu.join("information"),
            "Model: \t\t Tesla T4\nIRQ:   \t\t 139\nBus Location: \t 0000:17:00.0\nDevice Minor: \t 2\nGPU Excluded:\t No\n",
        )
        .unwrap();
        assert_eq!(
            nvidia_device_node("0000:17:00.0", &roots),
            None,
            "no node yet"
        );
        std::fs::write(roots.dev_dir.join("nvidia2"), "").unwrap();
        assert_eq!(
            nvidia_device_node("00000000:17:00.0", &roots),
            Some(roots.dev_dir.join("nvidia2"))
        );
        assert_eq!(nvidia_device_node("0000:18:00.0", &roots), None);
    }

    #[test]
    fn a_garbled_information_file_gives_no_node() {
        let roots = roots("garbled");
        let gpu = roots.proc_dir.join("driver/nvidia/gpus/0000:17:00.0");
        std::fs::create_dir_all(&gpu).unwrap();
        std::fs::write(roots.dev_dir.join("nvidia0"), "").unwrap();
        for text in ["Device Minor: zero\n", "Model: x\n", "", "Device Minor:\n"] {
            std::fs::write(gpu.join("information"), text).unwrap();
            assert_eq!(nvidia_device_node("0000:17:00.0", &roots), None, "{text:?}");
        }
        // A directory where the file should be is refused, not read.
        std::fs::remove_file(gpu.join("information")).unwrap();
        std::fs::create_dir(gpu.join("information")).unwrap();
        assert_eq!(nvidia_device_node("0000:17:00.0", &roots), None);
    }

    #[test]
    fn the_drm_render_node_names_the_node() {
        let roots = roots("drm");
        let drm = roots.sys_dir.join("bus/pci/devices/0000:03:00.0/drm");
        for entry in ["card1", "renderD129", "renderDx"] {
            std::fs::create_dir_all(drm.join(entry)).unwrap();
        }
        assert_eq!(render_node("0000:03:00.0", &roots), None, "no node yet");
        std::fs::create_dir_all(roots.dev_dir.join("dri")).unwrap();
        std::fs::write(roots.dev_dir.join("dri/renderD129"), "").unwrap();
        assert_eq!(
            render_node("0000:03:00.0", &roots),
            Some(roots.dev_dir.join("dri/renderD129"))
        );
        assert_eq!(render_node("0000:04:00.0", &roots), None);
    }

    #[test]
    fn pci_display_devices_are_matched_by_vendor_and_class() {
        let tmp = crate::testing::TempDir::new("pci-devices");
        let device = |address: &str, vendor: &str, class: &str| {
            let dir = tmp.path().join(address);
            std::fs::create_dir_all(&dir).unwrap();
            std::fs::write(dir.join("vendor"), format!("{vendor}\n")).unwrap();
            std::fs::write(dir.join("class"), format!("{class}\n")).unwrap();
        };
        device("0000:17:00.0", "0x10de", "0x030200");
        device("0000:03:00.0", "0x10de", "0x030000");
        device("0000:17:00.1", "0x10de", "0x040300");
        device("0000:00:02.0", "0x8086", "0x030000");
        assert_eq!(
            pci_display_devices_under(tmp.path(), "0x10de"),
            ["0000:03:00.0", "0000:17:00.0"]
        );
        assert!(pci_display_devices_under(&tmp.path().join("none"), "0x10de").is_empty());
    }
}
