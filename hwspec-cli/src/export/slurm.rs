//! Slurm (checked against slurmctld and slurmd 22.05): the node's validated capabilities as
//! node features, for `--constraint`, and its validated GPUs as typed GRES with the device
//! node each is bound through.
//!
//! Two files, because Slurm reads two. `slurm.conf` is the cluster's and already defines the
//! node (a second `NodeName=` line for it is fatal, "Duplicated NodeName"), so hwspec does not
//! print a node definition: it prints an include of one `NodeName=DEFAULT Features=… Gres=…`
//! line, which Slurm applies to the node line that follows it when that line sets neither
//! field. (The alternative, the `node_features/helpers` plugin, declares every feature in
//! helpers.conf as *available on every node* and reboots a node through `RebootProgram` to
//! "activate" one it lacks; a validated GPU cannot be activated by rebooting, the open set of
//! versioned features cannot be declared in advance, and helpers carry no GRES.) `gres.conf`
//! is read by each node's slurmd; hwspec prints one line per validated GPU with its `File=`,
//! which Slurm requires of typed GPUs, `AutoDetect=off` so that NVML or ROCm SMI cannot add
//! back a GPU that failed validation, and the runtime's environment flag.

use std::fmt::Write as _;

use hwspec_core::model::{BackendName, Report};

use super::{provenance, vendor_gpus, NodeGpu};

/// Renders the `slurm.conf` include: a `NodeName=DEFAULT` line whose `Features=` are the
/// capability set and whose `Gres=` counts the validated GPUs that have a device node, by type.
/// A flag capability is one feature (`gpu`); a versioned one is two, its name and its name with
/// the version (`cuda`, `cuda-12.8`), since Slurm compares features by name only.
pub fn include(report: &Report, node: &str) -> String {
    let mut features: Vec<String> = Vec::new();
    for cap in &report.capabilities {
        let mut add = |f: String| {
            if is_feature(&f) && !features.contains(&f) {
                features.push(f);
            }
        };
        add(cap.name.clone());
        if let Some(version) = &cap.version {
            add(format!("{}-{version}", cap.name));
        }
    }
    let gres: Vec<String> = bound_types(report)
        .into_iter()
        .map(|(gpu_type, count)| format!("gpu:{gpu_type}:{count}"))
        .collect();
    let mut out = format!(
        "# {}\n# Include this file in slurm.conf directly above the line NodeName={node} ..., which then sets\n\
         # neither Features= nor Gres=. slurm.conf needs GresTypes=gpu, and gres.conf the lines of\n\
         # hwspec probe --format slurm-gres.\n",
        provenance(report, "hwspec probe --format slurm")
    );
    notes(report, &mut out);
    // An empty Gres= is a parse error in slurm.conf; "" resets a default an earlier include set.
    let gres = if gres.is_empty() {
        "\"\"".to_owned()
    } else {
        gres.join(",")
    };
    let _ = writeln!(
        out,
        "NodeName=DEFAULT Features={} Gres={gres}",
        features.join(",")
    );
    out
}

/// Renders this node's `gres.conf` lines: one per validated GPU with a device node.
pub fn gres_conf(report: &Report, node: &str) -> String {
    let mut out = format!(
        "# {}\n",
        provenance(report, "hwspec probe --format slurm-gres")
    );
    notes(report, &mut out);
    let gpus = bound_gpus(report);
    if gpus.is_empty() {
        let _ = writeln!(out, "# no validated GPU with a device node, so no GRES");
    }
    // slurmd requires one set of environment flags for all GPUs of a node ("does not match env
    // flags for previous GRES of same node and name"): the vendor's own variable when every GPU
    // is one vendor's, Slurm's default (all of them) on a mixed node.
    let flags = match gpus.first().map(|g| g.backend) {
        Some(first) if gpus.iter().all(|g| g.backend == first) => match first {
            BackendName::Cuda => " Flags=nvidia_gpu_env",
            _ => " Flags=amd_gpu_env",
        },
        _ => "",
    };
    for (index, gpu) in gpus.iter().enumerate() {
        let autodetect = if index == 0 { " AutoDetect=off" } else { "" };
        let _ = writeln!(
            out,
            "NodeName={node}{autodetect} Name=gpu Type={} File={}{flags}",
            gres_type(&gpu.device.name),
            gpu.node.unwrap_or_default(),
        );
    }
    out
}

/// Comment lines for what the GRES leave out: overrides (which change features, never the
/// devices Slurm binds) and validated GPUs without a known device node.
fn notes(report: &Report, out: &mut String) {
    for (variable, value) in &report.overrides {
        let _ = writeln!(
            out,
            "# overridden: {variable}={value} (features only: GRES list the GPUs validated with a device node)"
        );
    }
    if report.capability("gpu").is_some() {
        let unbound = vendor_gpus(report);
        for gpu in unbound
            .iter()
            .filter(|g| !g.node.is_some_and(is_device_path))
        {
            let _ = writeln!(
                out,
                "# left out of GRES: {} ({}) was validated, but no device node was found for it",
                sanitised(&gpu.device.name),
                gpu.backend
            );
        }
    }
}

/// The GPUs Slurm can bind: validated, with a device node, and only while the capability set
/// (overrides included) says there is a GPU at all.
fn bound_gpus(report: &Report) -> Vec<NodeGpu<'_>> {
    if report.capability("gpu").is_none() {
        return Vec::new();
    }
    vendor_gpus(report)
        .into_iter()
        .filter(|g| g.node.is_some_and(is_device_path))
        .collect()
}

/// `(type, count)` of the bound GPUs, in first-seen order.
fn bound_types(report: &Report) -> Vec<(String, usize)> {
    let mut types: Vec<(String, usize)> = Vec::new();
    for gpu in bound_gpus(report) {
        let gpu_type = gres_type(&gpu.device.name);
        match types.iter_mut().find(|(t, _)| *t == gpu_type) {
            Some((_, n)) => *n += 1,
            None => types.push((gpu_type, 1)),
        }
    }
    types
}

/// A GRES type as Slurm's own GPU plugins spell a device name (`gpu_common_underscorify_tolower`:
/// lowercase, spaces made `_`, so "Tesla T4" is `tesla_t4` and "NVIDIA A100-SXM4-40GB" is
/// `nvidia_a100-sxm4-40gb`), with anything that would break `Gres=gpu:TYPE:N` parsing
/// (`:`, `,`, `=`, quotes, other punctuation) also made `_`.
pub fn gres_type(device_name: &str) -> String {
    let spelled: String = device_name
        .trim()
        .chars()
        .map(|c| match c.to_ascii_lowercase() {
            c @ ('a'..='z' | '0'..='9' | '-' | '.' | '_') => c,
            _ => '_',
        })
        .collect();
    if spelled.is_empty() {
        "gpu".to_owned()
    } else {
        spelled
    }
}

/// Whether `text` can be a Slurm feature name usable in `--constraint`: letters, digits, `_`,
/// `-` and `.`, none of the constraint operators (`&`, `|`, `*`, `[`, `]`, `,`, `!`, `(`, `)`).
fn is_feature(text: &str) -> bool {
    !text.is_empty()
        && text
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.'))
}

/// Whether a recorded device node is a plain absolute path gres.conf can carry.
fn is_device_path(path: &str) -> bool {
    path.starts_with("/dev/")
        && path
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'/' | b'_' | b'-' | b'.'))
        && !path.contains("..")
}

/// A device name fit for a comment line: printable ASCII only.
fn sanitised(name: &str) -> String {
    name.chars()
        .map(|c| {
            if c.is_ascii_graphic() || c == ' ' {
                c
            } else {
                '?'
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::super::testing::*;
    use super::*;
    use hwspec_core::model::Capability;

    /// Splits a slurm.conf-style line into its `Key=Value` pairs, as Slurm's parser does.
    fn pairs(line: &str) -> Vec<(&str, &str)> {
        line.split_whitespace()
            .map(|pair| pair.split_once('=').expect(pair))
            .collect()
    }

    fn two_t4s_and_an_a100() -> Report {
        reduced(vec![backend(
            BackendName::Cuda,
            "12.8",
            vec![
                gpu("Tesla T4", "7.5", "0000:17:00.0", Some("/dev/nvidia0")),
                gpu(
                    "NVIDIA A100-SXM4-40GB",
                    "8.0",
                    "0000:3b:00.0",
                    Some("/dev/nvidia1"),
                ),
                gpu("Tesla T4", "7.5", "0000:5e:00.0", Some("/dev/nvidia2")),
            ],
        )])
    }

    #[test]
    fn the_include_sets_features_and_typed_gres_on_the_next_node_line() {
        let text = include(&two_t4s_and_an_a100(), "node7");
        let lines: Vec<&str> = text.lines().filter(|l| !l.starts_with('#')).collect();
        assert_eq!(lines.len(), 1, "{text}");
        let pairs = pairs(lines[0]);
        assert_eq!(pairs[0], ("NodeName", "DEFAULT"));
        assert_eq!(pairs[1].0, "Features");
        for feature in [
            "cpu",
            "cuda",
            "cuda-12.8",
            "cuda-arch-7.5",
            "cuda-arch-8.0",
            "gpu-count-3",
        ] {
            assert!(
                pairs[1].1.split(',').any(|f| f == feature),
                "{feature}: {text}"
            );
        }
        for feature in pairs[1].1.split(',') {
            assert!(is_feature(feature), "{feature}");
        }
        assert_eq!(
            pairs[2],
            ("Gres", "gpu:tesla_t4:2,gpu:nvidia_a100-sxm4-40gb:1")
        );
        assert!(text.contains("above the line NodeName=node7"), "{text}");
    }

    #[test]
    fn gres_conf_binds_each_gpu_to_its_node_in_bus_order() {
        let text = gres_conf(&two_t4s_and_an_a100(), "node7");
        let lines: Vec<&str> = text.lines().filter(|l| !l.starts_with('#')).collect();
        assert_eq!(
            lines,
            [
                "NodeName=node7 AutoDetect=off Name=gpu Type=tesla_t4 File=/dev/nvidia0 Flags=nvidia_gpu_env",
                "NodeName=node7 Name=gpu Type=nvidia_a100-sxm4-40gb File=/dev/nvidia1 Flags=nvidia_gpu_env",
                "NodeName=node7 Name=gpu Type=tesla_t4 File=/dev/nvidia2 Flags=nvidia_gpu_env",
            ]
        );
    }

    #[test]
    fn amd_gpus_are_bound_through_render_nodes() {
        let report = reduced(vec![backend(
            BackendName::Hip,
            "6.2.41133",
            vec![gpu(
                "AMD Radeon PRO W6800",
                "gfx1030",
                "0000:c1:00.0",
                Some("/dev/dri/renderD128"),
            )],
        )]);
        assert!(gres_conf(&report, "n").contains(
            "NodeName=n AutoDetect=off Name=gpu Type=amd_radeon_pro_w6800 File=/dev/dri/renderD128 Flags=amd_gpu_env"
        ));
        assert!(include(&report, "n").contains("Gres=gpu:amd_radeon_pro_w6800:1\n"));
    }

    #[test]
    fn a_node_with_gpus_of_two_vendors_keeps_slurms_default_flags() {
        let report = reduced(vec![
            backend(
                BackendName::Cuda,
                "12.8",
                vec![gpu("Tesla T4", "7.5", "0000:17:00.0", Some("/dev/nvidia0"))],
            ),
            backend(
                BackendName::Hip,
                "6.2.41133",
                vec![gpu(
                    "W6800",
                    "gfx1030",
                    "0000:c1:00.0",
                    Some("/dev/dri/renderD128"),
                )],
            ),
        ]);
        let text = gres_conf(&report, "n");
        assert!(!text.contains("Flags="), "{text}");
        assert_eq!(text.matches("File=").count(), 2, "{text}");
    }

    #[test]
    fn a_machine_without_gpus_resets_gres() {
        let report = report(vec![Capability::flag("cpu")], Vec::new());
        let text = include(&report, "n");
        assert!(
            text.ends_with("NodeName=DEFAULT Features=cpu Gres=\"\"\n"),
            "{text}"
        );
        let gres = gres_conf(&report, "n");
        assert!(gres.lines().all(|l| l.starts_with('#')), "{gres}");
        assert!(!is_feature("a|b"));
        assert!(!is_feature("cuda (>= 12)"));
    }

    #[test]
    fn gpus_without_a_node_stay_out_of_gres_and_are_named() {
        let report = reduced(vec![backend(
            BackendName::Cuda,
            "12.8",
            vec![
                gpu("Tesla T4", "7.5", "0000:17:00.0", Some("/dev/nvidia0")),
                gpu("Tesla\nT4", "7.5", "0000:18:00.0", None),
                gpu(
                    "Tesla T4",
                    "7.5",
                    "0000:19:00.0",
                    Some("/dev/../etc/passwd"),
                ),
            ],
        )]);
        let text = include(&report, "n");
        assert!(text.contains("Gres=gpu:tesla_t4:1\n"), "{text}");
        assert!(
            text.contains("# left out of GRES: Tesla?T4 (cuda)"),
            "{text}"
        );
        assert!(text.contains("gpu-count-3"), "{text}");
        assert_eq!(gres_conf(&report, "n").matches("File=").count(), 1);
    }

    #[test]
    fn overrides_change_features_never_the_bound_devices() {
        let mut report = two_t4s_and_an_a100();
        report
            .overrides
            .insert("HWSPEC_OVERRIDE_GPU_COUNT".into(), "8".into());
        report.capabilities.retain(|c| c.name != "gpu-count");
        report
            .capabilities
            .push(Capability::versioned("gpu-count", "8"));
        let text = include(&report, "n");
        assert!(text.contains("gpu-count-8"), "{text}");
        assert!(
            text.contains("Gres=gpu:tesla_t4:2,gpu:nvidia_a100-sxm4-40gb:1"),
            "{text}"
        );
        assert!(text.contains("# overridden: HWSPEC_OVERRIDE_GPU_COUNT=8 (features only"));

        report.capabilities.retain(|c| c.name != "gpu");
        assert!(include(&report, "n").contains("Gres=\"\""));
        assert!(!gres_conf(&report, "n").contains("File="));
    }

    #[test]
    fn gres_types_follow_slurms_spelling() {
        assert_eq!(gres_type("NVIDIA H100 80GB HBM3"), "nvidia_h100_80gb_hbm3");
        assert_eq!(gres_type("NVIDIA A100-SXM4-40GB"), "nvidia_a100-sxm4-40gb");
        assert_eq!(gres_type("evil:gpu,x=1"), "evil_gpu_x_1");
        assert_eq!(gres_type("  "), "gpu");
    }
}
