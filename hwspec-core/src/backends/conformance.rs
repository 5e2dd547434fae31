//! The unit-level half of the conformance suite (the other half, crashes and hangs at every
//! stage, is `tests/conformance.rs`): the promises every backend that loads a runtime keeps
//! when the runtime is missing, checked by one function that each backend's `tests.rs` calls
//! with its own probe, and a test that no backend leaves it out.

use crate::model::{BackendReport, Level, ReasonCode, Status};
use crate::protocol::{Progress, Recorder, Stage};

/// Probes with `probe` (the backend's probe, asked to open the runtime by `missing` names that
/// do not exist) and checks the missing-runtime promises: the probe ends in the load stage,
/// without a partial report, `absent` with `library-not-found` naming every name tried, with
/// no device and no library. Returns the report for the backend's own further checks.
pub(crate) fn missing_runtime(
    missing: &[&str],
    probe: impl FnOnce(Level, &mut dyn Progress) -> BackendReport,
) -> BackendReport {
    let mut progress = Recorder::default();
    let report = probe(Level::Standard, &mut progress);
    assert_eq!(progress.stages, [Stage::Load], "{report:#?}");
    assert!(progress.partials.is_empty(), "{report:#?}");
    assert_eq!(report.status, Status::Absent, "{report:#?}");
    let reason = report.reason.as_ref().expect("an absent backend says why");
    assert_eq!(reason.code, ReasonCode::LibraryNotFound, "{reason:?}");
    for name in missing {
        assert!(reason.message.contains(name), "{name}: {}", reason.message);
    }
    assert!(report.devices.is_empty(), "{report:#?}");
    assert!(report.library.is_none(), "{report:#?}");
    report
}

#[test]
fn every_backend_that_loads_a_runtime_runs_the_missing_runtime_check() {
    let backends = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src/backends");
    for name in crate::model::BackendName::ALL {
        let name = name.as_str();
        let tests = std::fs::read_to_string(backends.join(name).join("tests.rs"))
            .unwrap_or_else(|e| panic!("backends/{name}/tests.rs: {e}"));
        // The CPU backend loads nothing; gcc_offload runs a compiler, and says which packages
        // are missing instead.
        let loads_a_runtime = !matches!(name, "cpu" | "gcc_offload");
        assert_eq!(
            tests.contains("conformance::missing_runtime("),
            loads_a_runtime,
            "backends/{name}/tests.rs and the missing-runtime check"
        );
    }
}
