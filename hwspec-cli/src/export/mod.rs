//! What hwspec prints for the schedulers and package managers that act on its answers (design
//! §9): Kubernetes Node Feature Discovery, Slurm, conda's virtual package detector protocol and
//! Debian's ROCm CI. Each module renders the report model in its consumer's own syntax; the
//! consumers' rules each module follows are named in its comments and in docs/integration.md.

pub mod conda;
pub mod debci;
pub mod nfd;
pub mod slurm;

use hwspec_core::model::{BackendName, Device, DeviceKind, Report};

/// A proven hardware GPU of a vendor runtime (CUDA or HIP) and the device node it was found
/// behind on the machine that probed it (`/dev/nvidia0`, `/dev/dri/renderD128`).
#[derive(Debug, Clone, Copy)]
pub struct NodeGpu<'a> {
    /// The runtime that proved it.
    pub backend: BackendName,
    /// The device as that runtime reported it.
    pub device: &'a Device,
    /// Its device node, where the probe found one.
    pub node: Option<&'a str>,
}

/// The proven hardware GPUs of the vendor runtimes, CUDA's then HIP's, each physical device
/// once (the same node seen twice counts once), in PCI bus order within each runtime as
/// Slurm numbers GPUs. Only vendor runtimes are asked: they name devices as the vendors'
/// management libraries do, and their workers look the device nodes up.
pub fn vendor_gpus(report: &Report) -> Vec<NodeGpu<'_>> {
    let mut gpus: Vec<NodeGpu<'_>> = Vec::new();
    for name in [BackendName::Cuda, BackendName::Hip] {
        let Some(backend) = report.backend(name) else {
            continue;
        };
        let mut these: Vec<NodeGpu<'_>> = backend
            .devices
            .iter()
            .filter(|d| d.kind == DeviceKind::Gpu && d.proven_at(report.level))
            // A MIG instance is a share of a GPU listed on its own; Slurm binds whole GPUs.
            .filter(|d| d.properties.get("mig").map(String::as_str) != Some("instance"))
            .map(|device| NodeGpu {
                backend: name,
                device,
                node: device.properties.get("device_node").map(String::as_str),
            })
            .collect();
        these.sort_by(|a, b| {
            let bus = |g: &NodeGpu<'_>| {
                g.device
                    .properties
                    .get("pci_bus_id")
                    .and_then(|b| hwspec_core::host::normalise_bus_id(b))
            };
            bus(a).cmp(&bus(b))
        });
        for gpu in these {
            let duplicate = gpu.node.is_some() && gpus.iter().any(|g| g.node == gpu.node);
            if !duplicate {
                gpus.push(gpu);
            }
        }
    }
    gpus
}

/// The report's header line for a comment: what wrote it, at which level.
pub fn provenance(report: &Report, command: &str) -> String {
    format!(
        "hwspec {} capabilities at level {} ({command})",
        report.hwspec_version, report.level
    )
}

#[cfg(test)]
pub mod testing {
    //! Report builders shared by the export modules' tests.

    use hwspec_core::model::{
        BackendName, BackendReport, Capability, Device, DeviceKind, HostInfo, Report, Status,
        SCHEMA_VERSION,
    };

    /// A report with the given capabilities and backends.
    pub fn report(caps: Vec<Capability>, backends: Vec<BackendReport>) -> Report {
        Report {
            schema: SCHEMA_VERSION,
            hwspec_version: "0.1.0".into(),
            level: hwspec_core::Level::Standard,
            capabilities: caps,
            backends,
            host: HostInfo {
                kernel: "Linux".into(),
                architecture: "x86_64".into(),
                root: true,
                driver_cache: None,
                environment: Default::default(),
                dropped_environment: Vec::new(),
            },
            elapsed_ms: 1.0,
            cache: None,
            overrides: Default::default(),
        }
    }

    /// A validated GPU of `backend` with an architecture, a PCI bus id and a device node.
    pub fn gpu(name: &str, arch: &str, bus: &str, node: Option<&str>) -> Device {
        let mut d = Device::new(name, "vendor", DeviceKind::Gpu);
        d.status = Status::Validated;
        d.arch = Some(arch.into());
        d.memory_bytes = Some(16 << 30);
        d.properties.insert("pci_bus_id".into(), bus.into());
        if let Some(node) = node {
            d.properties.insert("device_node".into(), node.into());
        }
        d
    }

    /// A validated backend with `devices` and a runtime version.
    pub fn backend(name: BackendName, runtime: &str, devices: Vec<Device>) -> BackendReport {
        let mut b = BackendReport::new(name, Status::Validated, None);
        b.runtime_version = Some(runtime.into());
        b.devices = devices;
        b
    }

    /// `backends` with the capability set hwspec derives from them.
    pub fn reduced(backends: Vec<BackendReport>) -> Report {
        let caps = hwspec_core::caps::reduce(hwspec_core::Level::Standard, &backends);
        report(caps, backends)
    }
}

#[cfg(test)]
mod tests {
    use super::testing::*;
    use super::*;

    #[test]
    fn vendor_gpus_are_in_bus_order_once_each_without_mig_shares() {
        let mut mig = gpu(
            "NVIDIA A100 MIG 1g.10gb",
            "8.0",
            "0000:01:00.0",
            Some("/dev/nvidia0"),
        );
        mig.properties.insert("mig".into(), "instance".into());
        let mut failed = gpu("Tesla T4", "7.5", "0000:05:00.0", Some("/dev/nvidia3"));
        failed.status = hwspec_core::Status::Failed;
        let report = reduced(vec![
            backend(
                BackendName::Cuda,
                "12.8",
                vec![
                    gpu("Tesla T4", "7.5", "0000:3B:00.0", Some("/dev/nvidia1")),
                    gpu("Tesla T4", "7.5", "0000:17:00.0", Some("/dev/nvidia0")),
                    mig,
                    failed,
                ],
            ),
            backend(
                BackendName::Hip,
                "6.2.41133",
                vec![
                    gpu("AMD Radeon PRO W6800", "gfx1030", "0000:c1:00.0", None),
                    gpu(
                        "same node twice",
                        "gfx1030",
                        "0000:c2:00.0",
                        Some("/dev/nvidia0"),
                    ),
                ],
            ),
        ]);
        let gpus = vendor_gpus(&report);
        let nodes: Vec<Option<&str>> = gpus.iter().map(|g| g.node).collect();
        assert_eq!(nodes, [Some("/dev/nvidia0"), Some("/dev/nvidia1"), None]);
        assert_eq!(gpus[2].backend, BackendName::Hip);
    }
}
