//! The readable table of `hwspec probe`. Renders the report model only; decides nothing.

use std::fmt::Write as _;

use hwspec_core::model::{Device, Reason, Report, Validation, ValidationKind};

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
            let checks: Vec<String> = d.validations.iter().map(validation_cell).collect();
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

/// One validation as `KIND [WHAT] ok|WRONG (TIME[, ACCURACY])`: `saxpy ok (3.6 ms, exact)`,
/// `render opengl WRONG (5.0 ms, 12 of 4096 pixels off)`, `va-context H264Main ok (1.2 ms)`.
fn validation_cell(v: &Validation) -> String {
    let verdict = if v.passed { "ok" } else { "WRONG" };
    let detail = match &v.kind {
        ValidationKind::Render(r) => Some(match r.mismatched_pixels {
            Some(wrong) if wrong > 0 => format!("{wrong} of {} pixels off", r.pixels),
            _ if r.max_channel_error == 0 => "exact".to_owned(),
            _ => format!("max err {}/255", r.max_channel_error),
        }),
        ValidationKind::CodecQuery(q) => Some(format!(
            "decode {}, encode {}",
            q.decode.len(),
            q.encode.len()
        )),
        other => other.compared().map(|c| {
            let e = c.max_abs_error;
            if e == 0.0 {
                "exact".to_owned()
            } else if e.is_finite() {
                format!("max err {e:.1e}")
            } else {
                "not comparable".to_owned()
            }
        }),
    };
    let mut cell = v.kind.label();
    let _ = write!(cell, " {verdict} ({:.1} ms", v.elapsed_ms);
    if let Some(detail) = detail {
        let _ = write!(cell, ", {detail}");
    }
    cell.push(')');
    cell
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
        BackendName, BackendReport, Capability, CodecQuery, Compared, DeviceKind, HostInfo,
        ReasonCode, Render, RenderApi, Status, VaContext, SCHEMA_VERSION,
    };

    #[test]
    fn the_table_shows_states_reasons_devices_and_capabilities() {
        let mut opencl = BackendReport::new(BackendName::Opencl, Status::Validated, None);
        let mut device = Device::new("pthread-x", "PoCL", DeviceKind::Software);
        device.status = Status::Validated;
        device.memory_bytes = Some(3 << 30);
        device.api_version = Some("3.0".into());
        device.validations.push(Validation {
            kind: ValidationKind::Saxpy(Compared {
                elements: 1 << 20,
                max_abs_error: 0.0,
            }),
            passed: true,
            elapsed_ms: 4.2,
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

    /// Each kind shows what it ran on and how close it came, in its own terms.
    #[test]
    fn each_validation_kind_has_its_own_cell() {
        let cell = |kind, passed| {
            validation_cell(&Validation {
                kind,
                passed,
                elapsed_ms: 2.25,
            })
        };
        let compared = |max_abs_error| Compared {
            elements: 16,
            max_abs_error,
        };
        let render = |api, mismatched_pixels, max_channel_error| {
            ValidationKind::Render(Render {
                api,
                pixels: 4096,
                mismatched_pixels,
                max_channel_error,
            })
        };
        for (got, want) in [
            (
                cell(ValidationKind::Sgemm(compared(0.0)), true),
                "sgemm ok (2.2 ms, exact)",
            ),
            (
                cell(ValidationKind::Saxpy(compared(0.5)), false),
                "saxpy WRONG (2.2 ms, max err 5.0e-1)",
            ),
            (
                cell(
                    ValidationKind::OffloadRegion(compared(f64::INFINITY)),
                    false,
                ),
                "offload-region WRONG (2.2 ms, not comparable)",
            ),
            (
                cell(render(RenderApi::Gles, Some(0), 0), true),
                "render gles ok (2.2 ms, exact)",
            ),
            (
                cell(render(RenderApi::OpenGl, Some(0), 1), true),
                "render opengl ok (2.2 ms, max err 1/255)",
            ),
            (
                cell(render(RenderApi::OpenGl, Some(12), 40), false),
                "render opengl WRONG (2.2 ms, 12 of 4096 pixels off)",
            ),
            (
                cell(render(RenderApi::Gles, None, 40), false),
                "render gles WRONG (2.2 ms, max err 40/255)",
            ),
            (
                cell(
                    ValidationKind::VaContext(VaContext {
                        profile: "H264Main".into(),
                    }),
                    true,
                ),
                "va-context H264Main ok (2.2 ms)",
            ),
            (
                cell(
                    ValidationKind::CodecQuery(CodecQuery {
                        decode: vec!["h264".into(), "av1".into()],
                        encode: Vec::new(),
                    }),
                    true,
                ),
                "codec-query ok (2.2 ms, decode 2, encode 0)",
            ),
            (
                cell(
                    ValidationKind::Unknown {
                        kind: "matmul-fp8".into(),
                        fields: Default::default(),
                    },
                    true,
                ),
                "matmul-fp8 ok (2.2 ms)",
            ),
        ] {
            assert_eq!(got, want);
        }
    }
}
