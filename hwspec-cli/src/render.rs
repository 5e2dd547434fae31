//! The readable table of `hwspec probe`. Renders the report model only; decides nothing.

use std::fmt::Write as _;

use hwspec_core::model::{Device, Reason, Report, Validation};

/// Renders `report` as the table `hwspec probe` prints.
pub fn table(report: &Report) -> String {
    let mut out = String::new();
    let who = if report.host.root { "root" } else { "user" };
    let _ = writeln!(
        out,
        "hwspec {}: level {}, {} backend(s) in {:.0} ms, as {who} on {} {}",
        report.hwspec_version,
        report.level,
        report.backends.len(),
        report.elapsed_ms,
        report.host.kernel,
        report.host.architecture,
    );
    if let Some(cache) = report.cache.as_ref().filter(|c| c.hit) {
        let _ = writeln!(
            out,
            "note: from the report cache ({:.0} s old; --fresh probes again)",
            cache.age_seconds
        );
    }
    if !report.overrides.is_empty() {
        let set: Vec<String> = report
            .overrides
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect();
        let _ = writeln!(out, "note: capabilities overridden by {}", set.join(", "));
    }
    if !report.host.dropped_environment.is_empty() {
        let _ = writeln!(
            out,
            "note: as root, these variables of the caller, which another user could have \
             chosen, were not passed to the workers (--trust-env passes them): {}",
            report.host.dropped_environment.join(", ")
        );
    }

    out.push('\n');
    let mut rows = vec![row(["BACKEND", "STATUS", "TIME", "LIBRARY"])];
    let mut notes: Vec<Vec<String>> = vec![Vec::new()];
    for b in &report.backends {
        rows.push(row([
            b.name.as_str(),
            b.status.as_str(),
            &format!("{:.0} ms", b.elapsed_ms),
            b.library.as_deref().unwrap_or("-"),
        ]));
        let mut lines: Vec<String> = b.reason.iter().map(reason_line).collect();
        lines.extend(b.warnings.iter().map(|w| format!("warning: {w}")));
        notes.push(lines);
    }
    push_table(&mut out, &rows, &notes);

    let devices: Vec<(&str, &Device)> = report
        .backends
        .iter()
        .flat_map(|b| b.devices.iter().map(move |d| (b.name.as_str(), d)))
        .collect();
    if !devices.is_empty() {
        out.push('\n');
        let mut rows = vec![row([
            "BACKEND",
            "DEVICE",
            "KIND",
            "STATUS",
            "API",
            "MEMORY",
            "VALIDATION",
        ])];
        let mut notes: Vec<Vec<String>> = vec![Vec::new()];
        for (backend, d) in devices {
            let checks: Vec<String> = [&d.validation, &d.gemm_validation]
                .into_iter()
                .flatten()
                .map(validation_cell)
                .collect();
            rows.push(row([
                backend,
                &d.name,
                d.kind.as_str(),
                d.status.as_str(),
                d.api_version.as_deref().unwrap_or("-"),
                &d.memory_bytes.map_or_else(|| "-".to_owned(), gib),
                &if checks.is_empty() {
                    "-".to_owned()
                } else {
                    checks.join(", ")
                },
            ]));
            notes.push(d.reason.iter().map(reason_line).collect());
        }
        push_table(&mut out, &rows, &notes);
    }

    out.push_str("\nCAPABILITIES\n  ");
    let caps: Vec<String> = report
        .capabilities
        .iter()
        .map(ToString::to_string)
        .collect();
    out.push_str(&caps.join(", "));
    out.push('\n');
    if report.level == hwspec_core::Level::Quick {
        out.push_str("  (level quick: devices were listed, not validated)\n");
    }
    out
}

fn row<const N: usize>(cells: [&str; N]) -> Vec<String> {
    cells.iter().map(|c| (*c).to_owned()).collect()
}

fn reason_line(reason: &Reason) -> String {
    format!("reason: {}: {}", reason.code, reason.message)
}

fn validation_cell(v: &Validation) -> String {
    let verdict = if v.passed { "ok" } else { "WRONG" };
    let error = if v.max_abs_error == 0.0 {
        "exact".to_owned()
    } else {
        format!("max err {:.1e}", v.max_abs_error)
    };
    format!("{} {verdict} ({:.1} ms, {error})", v.kernel, v.elapsed_ms)
}

fn gib(bytes: u64) -> String {
    format!("{:.1} GiB", bytes as f64 / f64::from(1u32 << 30))
}

/// Writes rows as left-aligned columns, each followed by its indented notes.
fn push_table(out: &mut String, rows: &[Vec<String>], notes: &[Vec<String>]) {
    let columns = rows.first().map_or(0, Vec::len);
    let widths: Vec<usize> = (0..columns)
        .map(|c| rows.iter().map(|r| r[c].chars().count()).max().unwrap_or(0))
        .collect();
    for (cells, notes) in rows.iter().zip(notes) {
        let mut line = String::new();
        for (c, cell) in cells.iter().enumerate() {
            if c + 1 == columns {
                line.push_str(cell);
            } else {
                let _ = write!(line, "{cell:<width$}  ", width = widths[c]);
            }
        }
        out.push_str(line.trim_end());
        out.push('\n');
        for note in notes {
            let _ = writeln!(out, "    {note}");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use hwspec_core::model::{
        BackendName, BackendReport, Capability, DeviceKind, HostInfo, ReasonCode, Status,
        SCHEMA_VERSION,
    };

    #[test]
    fn the_table_shows_states_reasons_devices_and_capabilities() {
        let mut opencl = BackendReport::new(BackendName::Opencl, Status::Validated, None);
        let mut device = Device::new("pthread-x", "PoCL", DeviceKind::Software);
        device.status = Status::Validated;
        device.memory_bytes = Some(3 << 30);
        device.api_version = Some("3.0".into());
        device.validation = Some(Validation {
            kernel: "saxpy".into(),
            passed: true,
            max_abs_error: 0.0,
            elapsed_ms: 4.2,
            elements: 1 << 20,
        });
        opencl.devices.push(device);
        let vulkan = BackendReport::absent(
            BackendName::Vulkan,
            ReasonCode::LibraryNotFound,
            "no libvulkan.so.1",
        );
        let report = Report {
            schema: SCHEMA_VERSION,
            hwspec_version: "0.1.0".into(),
            level: hwspec_core::Level::Standard,
            capabilities: vec![
                Capability::flag("cpu"),
                Capability::versioned("opencl", "3.0"),
            ],
            backends: vec![opencl, vulkan],
            host: HostInfo {
                kernel: "Linux 6.1".into(),
                architecture: "x86_64".into(),
                root: false,
                driver_cache: None,
                environment: Default::default(),
                dropped_environment: vec!["LD_PRELOAD".into()],
            },
            elapsed_ms: 12.0,
            cache: None,
            overrides: Default::default(),
        };
        let text = table(&report);
        assert!(text.contains("opencl   validated"), "{text}");
        assert!(
            text.contains("reason: library-not-found: no libvulkan.so.1"),
            "{text}"
        );
        assert!(text.contains("pthread-x"), "{text}");
        assert!(text.contains("3.0 GiB"), "{text}");
        assert!(text.contains("saxpy ok"), "{text}");
        assert!(text.contains("cpu, opencl (= 3.0)"), "{text}");
        assert!(text.contains("not passed to the workers"), "{text}");
        assert!(text.contains("LD_PRELOAD"), "{text}");
    }
}
