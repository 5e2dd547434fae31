//! Pure reading of what the runtime and the OS said: version numbers, gfx target ids, the
//! bytes of `hipDeviceProp_t`, and the device-node and environment evidence behind a state.
//! Tests feed these functions captured or made-up inputs; nothing here touches a device.

use std::path::Path;

use super::sys::PropLayout;
pub(super) use crate::host::NodeAccess;
use crate::host::{cannot_open, node_access, render_nodes, DRI_DIR};
use crate::model::{ReasonCode, Status};

/// The KFD compute node every ROCm process opens.
pub(super) const KFD_NODE: &str = "/dev/kfd";

/// Variables that hide devices from HIP, in the order the runtime stack applies them.
pub(super) const VISIBILITY_VARS: &[&str] = &[
    "ROCR_VISIBLE_DEVICES",
    "HIP_VISIBLE_DEVICES",
    "CUDA_VISIBLE_DEVICES",
];
/// Makes the runtime treat a GPU as another gfx target; echoed because it changes which code
/// objects a device accepts.
pub(super) const OVERRIDE_VAR: &str = "HSA_OVERRIDE_GFX_VERSION";

/// `HIP_VERSION` (major * 10^7 + minor * 10^5 + patch) as `major.minor.patch`.
pub(super) fn format_hip_version(version: i32) -> Option<String> {
    let version = u32::try_from(version).ok().filter(|&v| v > 0)?;
    Some(format!(
        "{}.{}.{}",
        version / 10_000_000,
        version / 100_000 % 100,
        version % 100_000
    ))
}

/// The major number of a `HIP_VERSION`.
pub(super) fn hip_major(version: i32) -> u32 {
    u32::try_from(version).map_or(0, |v| v / 10_000_000)
}

/// The base target of a gfx target id: `gfx90a:sramecc+:xnack-` → `gfx90a`. `None` for
/// anything that is not `gfx` followed by hex digits, so a misread struct cannot leak into a
/// capability name.
pub(super) fn base_gfx_target(target_id: &str) -> Option<&str> {
    let base = target_id.split(':').next()?.trim();
    let digits = base.strip_prefix("gfx")?;
    let plausible = !digits.is_empty()
        && digits.len() <= 6
        && digits
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b));
    plausible.then_some(base)
}

/// The feature settings of a gfx target id: `gfx90a:sramecc+:xnack-` → `sramecc+:xnack-`.
pub(super) fn target_features(target_id: &str) -> Option<&str> {
    target_id
        .split_once(':')
        .map(|(_, features)| features)
        .filter(|f| !f.is_empty())
}

/// Facts read out of a `hipDeviceProp_t`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct PropFacts {
    /// `gcnArchName`, the full target id.
    pub gcn_arch_name: String,
    /// `multiProcessorCount`: compute units (work-group processors in WGP mode).
    pub compute_units: u32,
}

struct Offsets {
    total_global_mem: usize,
    multi_processor_count: usize,
    gcn_arch_name: usize,
}

impl PropLayout {
    /// Field offsets on LP64 Linux, from `hipDeviceProp_tR0000` (ROCm 5's hip_runtime_api.h,
    /// kept as hip_deprecated.h in ROCm 6) and `hipDeviceProp_tR0600` (ROCm 6 and 7).
    fn offsets(self) -> Offsets {
        match self {
            PropLayout::R0000 => Offsets {
                total_global_mem: 256,
                multi_processor_count: 336,
                gcn_arch_name: 396,
            },
            PropLayout::R0600 => Offsets {
                total_global_mem: 288,
                multi_processor_count: 388,
                gcn_arch_name: 1160,
            },
        }
    }
}

/// Reads `gcnArchName` and `multiProcessorCount` from the bytes a properties call filled, but
/// only after checking that the layout is the one assumed: `name` (offset 0 in both layouts)
/// must equal what hipDeviceGetName said and `totalGlobalMem` what hipDeviceTotalMem said, and
/// the arch name must be a gfx target id. A runtime whose struct differs is refused, not read.
pub(super) fn read_properties(
    bytes: &[u8],
    layout: PropLayout,
    name: &str,
    total_mem: u64,
) -> Result<PropFacts, String> {
    let offsets = layout.offsets();
    let field = |at: usize, len: usize| bytes.get(at..at + len);
    let text = |at: usize| field(at, 256).map(super::api::c_string);
    let u64_at =
        |at: usize| field(at, 8).map(|b| u64::from_ne_bytes(b.try_into().unwrap_or([0; 8])));
    let i32_at =
        |at: usize| field(at, 4).map(|b| i32::from_ne_bytes(b.try_into().unwrap_or([0; 4])));

    let struct_name = text(0).unwrap_or_default();
    if struct_name != name {
        return Err(format!(
            "its name field reads {struct_name:?}, hipDeviceGetName said {name:?}"
        ));
    }
    let struct_mem = u64_at(offsets.total_global_mem).unwrap_or(0);
    if struct_mem != total_mem {
        return Err(format!(
            "its totalGlobalMem reads {struct_mem}, hipDeviceTotalMem said {total_mem}"
        ));
    }
    let gcn_arch_name = text(offsets.gcn_arch_name).unwrap_or_default();
    if base_gfx_target(&gcn_arch_name).is_none() {
        return Err(format!("its gcnArchName reads {gcn_arch_name:?}"));
    }
    let compute_units = i32_at(offsets.multi_processor_count)
        .and_then(|n| u32::try_from(n).ok())
        .ok_or("its multiProcessorCount is negative")?;
    Ok(PropFacts {
        gcn_arch_name,
        compute_units,
    })
}

/// Whether the code object manager lists `base_target` among its ISAs
/// (`amdgcn-amd-amdhsa--gfx90a`, possibly with feature suffixes).
pub(super) fn compiler_knows(isa_names: &[String], base_target: &str) -> bool {
    isa_names.iter().any(|isa| {
        isa.rsplit("--")
            .next()
            .and_then(base_gfx_target)
            .is_some_and(|base| base == base_target)
    })
}

/// The OS-side evidence for a HIP report.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Evidence {
    pub kfd: NodeAccess,
    /// Every `/dev/dri/renderD*`, sorted by path.
    pub render_nodes: Vec<(String, NodeAccess)>,
    /// The visibility variables and [`OVERRIDE_VAR`] that are set, with their values.
    pub env: Vec<(String, String)>,
}

impl Evidence {
    /// Looks at this machine's device nodes and this process's environment.
    pub(super) fn gather() -> Evidence {
        let groups = crate::sys::etc_group();
        let render_nodes = render_nodes(Path::new(DRI_DIR))
            .into_iter()
            .map(|path| {
                let access = node_access(&path, &groups);
                (path.display().to_string(), access)
            })
            .collect();
        let env = VISIBILITY_VARS
            .iter()
            .chain(&[OVERRIDE_VAR])
            .filter_map(|&name| std::env::var(name).ok().map(|v| (name.to_owned(), v)))
            .collect();
        Evidence {
            kfd: node_access(Path::new(KFD_NODE), &groups),
            render_nodes,
            env,
        }
    }

    /// The evidence as report properties.
    pub(super) fn properties(&self) -> Vec<(String, String)> {
        let mut props = vec![(
            "kfd".to_owned(),
            format!("{KFD_NODE} {}", self.kfd.describe()),
        )];
        let render = if self.render_nodes.is_empty() {
            format!("no {DRI_DIR}/renderD* node")
        } else {
            self.render_nodes
                .iter()
                .map(|(path, access)| format!("{path} {}", access.describe()))
                .collect::<Vec<_>>()
                .join("; ")
        };
        props.push(("render_nodes".to_owned(), render));
        props.extend(
            self.env
                .iter()
                .map(|(k, v)| (format!("env.{k}"), v.clone())),
        );
        props
    }
}

/// The state and reason of a runtime that offers no device, judged from the evidence:
/// a node the user may not open, then a variable hiding devices that exist, then plain
/// absence. `runtime_said` is the runtime's own answer, kept in every message.
pub(super) fn no_device_verdict(
    evidence: &Evidence,
    runtime_said: &str,
) -> (Status, ReasonCode, String) {
    if let NodeAccess::Denied { group } = &evidence.kfd {
        return (
            Status::Unusable,
            ReasonCode::PermissionDenied,
            format!(
                "{runtime_said}: {}",
                cannot_open(Path::new(KFD_NODE), group)
            ),
        );
    }
    let kfd_usable = evidence.kfd == NodeAccess::Openable;
    let all_render_denied = !evidence.render_nodes.is_empty()
        && evidence
            .render_nodes
            .iter()
            .all(|(_, access)| matches!(access, NodeAccess::Denied { .. }));
    if kfd_usable && all_render_denied {
        let (path, access) = &evidence.render_nodes[0];
        let group = match access {
            NodeAccess::Denied { group } => group.as_str(),
            _ => "unknown",
        };
        return (
            Status::Unusable,
            ReasonCode::PermissionDenied,
            format!("{runtime_said}: {}", cannot_open(Path::new(path), group)),
        );
    }
    let hiding = evidence
        .env
        .iter()
        .find(|(name, _)| VISIBILITY_VARS.contains(&name.as_str()));
    if let (Some((name, value)), true) = (hiding, evidence.kfd != NodeAccess::Missing) {
        return (
            Status::Unusable,
            ReasonCode::HiddenByEnv,
            format!("{runtime_said}: {KFD_NODE} exists but {name}={value:?} hides every device"),
        );
    }
    let kfd = match &evidence.kfd {
        NodeAccess::Missing => format!("{KFD_NODE} is missing (no amdgpu kernel driver or GPU)"),
        other => format!("{KFD_NODE} is {}", other.describe()),
    };
    (
        Status::Absent,
        ReasonCode::NoDevice,
        format!("{runtime_said}; {kfd}"),
    )
}
