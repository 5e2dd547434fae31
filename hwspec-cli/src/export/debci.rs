//! Debian's ROCm CI: debci workers are declared per GPU architecture, as `amd64+gfx1030`, one
//! queue each, and rocm-team/debci issue 10 asks that a worker's real GPUs be checked against
//! that declaration. `hwspec probe --format debci` prints the tags of this machine's validated
//! AMD GPUs; `hwspec check --worker-tag TAG` judges a declared tag.

use hwspec_core::amdgpu::{debian_architecture, WorkerTag};
use hwspec_core::model::{BackendName, Report, Status};
use hwspec_core::spec::{ClauseVerdict, RelationVerdict, Verdict};

/// This machine's worker tags, one per distinct architecture of a validated AMD GPU, sorted;
/// none without one. An error when the kernel's machine name has no Debian architecture.
pub fn tags(report: &Report) -> Result<Vec<String>, String> {
    let architecture = architecture(report)?;
    let mut tags: Vec<String> = report
        .backend(BackendName::Hip)
        .into_iter()
        .flat_map(|b| &b.devices)
        .filter(|d| d.proven_at(report.level))
        .filter_map(|d| d.arch.as_deref())
        .map(|gpu| format!("{architecture}+{gpu}"))
        .collect();
    tags.sort();
    tags.dedup();
    Ok(tags)
}

/// The `--format debci` text: the tags, one per line.
pub fn render(report: &Report) -> Result<String, String> {
    Ok(tags(report)?
        .into_iter()
        .map(|tag| tag + "\n")
        .collect::<String>())
}

fn architecture(report: &Report) -> Result<&'static str, String> {
    debian_architecture(&report.host.architecture).ok_or_else(|| {
        format!(
            "the machine architecture {:?} has no Debian architecture name hwspec knows",
            report.host.architecture
        )
    })
}

/// Judges a declared worker tag: the machine has the tag's Debian architecture, at least one
/// validated AMD GPU, and every AMD GPU the HIP runtime listed is validated with the tag's
/// architecture (a worker declared for gfx1030 that also holds a gfx90a, or a gfx1030 that
/// fails validation, does not match its declaration).
pub fn judge_tag(tag: &WorkerTag, report: &Report) -> Verdict {
    let machine = match architecture(report) {
        Ok(arch) if arch == tag.architecture => relation(
            &tag.architecture,
            true,
            format!("this machine is {arch}"),
            None,
        ),
        Ok(arch) => relation(
            &tag.architecture,
            false,
            format!("this machine is {arch}"),
            None,
        ),
        Err(why) => relation(&tag.architecture, false, why, None),
    };
    let hip = report.backend(BackendName::Hip);
    let devices: Vec<_> = hip.into_iter().flat_map(|b| &b.devices).collect();
    let matching = devices
        .iter()
        .find(|d| d.proven_at(report.level) && d.arch.as_deref() == Some(tag.gpu.as_str()));
    let mismatched: Vec<String> = devices
        .iter()
        .filter(|d| !(d.proven_at(report.level) && d.arch.as_deref() == Some(&tag.gpu)))
        .map(|d| {
            let state = match (d.status, &d.reason) {
                (Status::Validated, _) | (Status::Enumerated, None) => d.status.to_string(),
                (status, Some(reason)) => format!("{status}: {}: {}", reason.code, reason.message),
                (status, None) => status.to_string(),
            };
            format!(
                "{} ({}, {state})",
                d.name,
                d.arch.as_deref().unwrap_or("architecture unknown")
            )
        })
        .collect();
    let gpu = match (matching, mismatched.is_empty(), hip) {
        (Some(device), true, _) => relation(
            &tag.gpu,
            true,
            format!(
                "every AMD GPU is a validated {}: {}",
                tag.gpu,
                devices
                    .iter()
                    .map(|d| d.name.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
            Some(device.name.clone()),
        ),
        (_, false, _) => relation(
            &tag.gpu,
            false,
            format!(
                "not every AMD GPU is a validated {}: {}",
                tag.gpu,
                mismatched.join("; ")
            ),
            None,
        ),
        (None, true, Some(backend)) => relation(
            &tag.gpu,
            false,
            match &backend.reason {
                Some(reason) => format!(
                    "no AMD GPU: the hip backend is {}: {}: {}",
                    backend.status, reason.code, reason.message
                ),
                None => format!("no AMD GPU: the hip backend is {}", backend.status),
            },
            None,
        ),
        (None, true, None) => relation(
            &tag.gpu,
            false,
            "not probed: the hip backend was not part of this probe".to_owned(),
            None,
        ),
    };
    let clauses: Vec<ClauseVerdict> = [machine, gpu]
        .into_iter()
        .map(|relation| ClauseVerdict {
            text: relation.text.clone(),
            satisfied: relation.satisfied,
            relations: vec![relation],
        })
        .collect();
    Verdict {
        satisfied: clauses.iter().all(|c| c.satisfied),
        clauses,
    }
}

fn relation(
    text: &str,
    satisfied: bool,
    explanation: String,
    device: Option<String>,
) -> RelationVerdict {
    RelationVerdict {
        text: text.to_owned(),
        satisfied,
        explanation,
        device,
    }
}

#[cfg(test)]
mod tests {
    use super::super::testing::*;
    use super::*;
    use hwspec_core::model::{BackendReport, ReasonCode};

    fn amd(devices: Vec<hwspec_core::model::Device>) -> Report {
        reduced(vec![backend(BackendName::Hip, "6.2.41133", devices)])
    }

    #[test]
    fn tags_name_each_validated_architecture_once() {
        let report = amd(vec![
            gpu("W6800", "gfx1030", "0000:c1:00.0", None),
            gpu("MI210", "gfx90a", "0000:c2:00.0", None),
            gpu("W6800", "gfx1030", "0000:c3:00.0", None),
        ]);
        assert_eq!(render(&report).unwrap(), "amd64+gfx1030\namd64+gfx90a\n");
        assert_eq!(render(&reduced(Vec::new())).unwrap(), "");
        let mut odd = reduced(Vec::new());
        odd.host.architecture = "pdp11".into();
        assert!(render(&odd).unwrap_err().contains("pdp11"));
    }

    #[test]
    fn a_tag_matches_only_when_every_amd_gpu_is_its_validated_architecture() {
        let tag = WorkerTag::parse("amd64+gfx1030").unwrap();
        let good = amd(vec![gpu("W6800", "gfx1030", "0000:c1:00.0", None)]);
        assert!(judge_tag(&tag, &good).satisfied);

        let mixed = amd(vec![
            gpu("W6800", "gfx1030", "0000:c1:00.0", None),
            gpu("MI210", "gfx90a", "0000:c2:00.0", None),
        ]);
        let verdict = judge_tag(&tag, &mixed);
        assert!(!verdict.satisfied);
        assert!(verdict
            .explanation("tag")
            .contains("MI210 (gfx90a, validated)"));

        let mut broken = gpu("W6800", "gfx1030", "0000:c1:00.0", None);
        broken.fail(ReasonCode::WrongResult, "saxpy differs");
        let verdict = judge_tag(&tag, &amd(vec![broken]));
        assert!(!verdict.satisfied);
        assert!(
            verdict.explanation("t").contains("failed: wrong-result"),
            "{verdict:?}"
        );

        let wrong_arch = WorkerTag::parse("arm64+gfx1030").unwrap();
        assert!(!judge_tag(&wrong_arch, &good).satisfied);

        let absent = reduced(vec![BackendReport::absent(
            BackendName::Hip,
            ReasonCode::NoDevice,
            "/dev/kfd is missing",
        )]);
        let text = judge_tag(&tag, &absent).explanation("t");
        assert!(
            text.contains("no AMD GPU: the hip backend is absent: no-device"),
            "{text}"
        );
        assert!(judge_tag(&tag, &reduced(Vec::new()))
            .explanation("t")
            .contains("not probed"));
    }
}
