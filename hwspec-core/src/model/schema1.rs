//! Reading schema-1 reports, which kept a device's validations in two fields whatever ran:
//! `validation` (SAXPY; EGL's OpenGL ES render, VA-API's decode context, NVDEC/NVENC's codec
//! queries, GCC's offload region) and `gemm_validation` (SGEMM; EGL's desktop OpenGL render),
//! each `{kernel, passed, max_abs_error, elapsed_ms, elements}`. Which kind ran is told by the
//! kernel name and the backend; the figures are carried over as they were measured, and what
//! schema 1 did not record is not invented.

use serde::Deserialize;
use serde_json::{Map, Value};

use super::{
    BackendName, CodecQuery, Compared, Render, RenderApi, VaContext, Validation, ValidationKind,
    SCHEMA_VERSION,
};

/// What every schema-1 writer asked NVDEC and NVENC about, in that order: its `elements` was
/// the number of queries answered, one per decode codec and one for NVENC's codec list. Fixed
/// here because it describes reports already written, whatever a later probe asks.
const DECODE_CODECS: [&str; 4] = ["h264", "hevc", "vp9", "av1"];
const ENCODE_CODECS: [&str; 3] = ["h264", "hevc", "av1"];

/// A schema-1 validation. `max_abs_error` was written as `null` when it was infinite.
#[derive(Deserialize)]
struct Old {
    kernel: String,
    passed: bool,
    max_abs_error: Option<f64>,
    elapsed_ms: f64,
    elements: u64,
}

/// Rewrites a schema-1 document as schema [`SCHEMA_VERSION`] in place: every device's
/// `validation` and `gemm_validation` become its `validations`. Whatever is not a device's
/// validation is left for the typed reading to judge.
pub(super) fn upgrade(document: &mut Value) -> Result<(), String> {
    let Some(report) = document.as_object_mut() else {
        return Ok(());
    };
    report.insert("schema".into(), SCHEMA_VERSION.into());
    let Some(backends) = report.get_mut("backends").and_then(Value::as_array_mut) else {
        return Ok(());
    };
    for backend in backends.iter_mut().filter_map(Value::as_object_mut) {
        let name = backend
            .get("name")
            .cloned()
            .and_then(|name| serde_json::from_value::<BackendName>(name).ok());
        let Some(devices) = backend.get_mut("devices").and_then(Value::as_array_mut) else {
            continue;
        };
        for (index, device) in devices.iter_mut().enumerate() {
            let Some(device) = device.as_object_mut() else {
                continue;
            };
            let mut validations = Vec::new();
            for key in ["validation", "gemm_validation"] {
                match device.remove(key) {
                    None | Some(Value::Null) => {}
                    Some(old) => {
                        let validation = convert(name, device, old).map_err(|why| {
                            let backend = name.map_or("?", BackendName::as_str);
                            format!("{backend} device {index}: schema-1 {key}: {why}")
                        })?;
                        validations.push(validation);
                    }
                }
            }
            let validations = serde_json::to_value(validations).map_err(|e| e.to_string())?;
            device.insert("validations".into(), validations);
        }
    }
    Ok(())
}

/// The schema-2 validation a schema-1 one of `backend`'s `device` stands for.
fn convert(
    backend: Option<BackendName>,
    device: &Map<String, Value>,
    old: Value,
) -> Result<Validation, String> {
    let old: Old = serde_json::from_value(old).map_err(|e| e.to_string())?;
    let compared = || Compared {
        elements: old.elements,
        max_abs_error: old.max_abs_error.unwrap_or(f64::INFINITY),
    };
    let render = |api| -> Result<ValidationKind, String> {
        // Schema 1 counted colour channels and gave the largest difference of one; a render
        // passed only when every channel was within one unit, so no pixel was off then.
        let max_channel_error = old
            .max_abs_error
            .filter(|e| e.fract() == 0.0 && (0.0..=255.0).contains(e))
            .ok_or_else(|| {
                format!(
                    "a render's max_abs_error {:?} is not a colour difference",
                    old.max_abs_error
                )
            })? as u8;
        Ok(ValidationKind::Render(Render {
            api,
            pixels: old.elements / 4,
            mismatched_pixels: old.passed.then_some(0),
            max_channel_error,
        }))
    };
    let kind = match (old.kernel.as_str(), backend) {
        ("saxpy", Some(BackendName::GccOffload)) => ValidationKind::OffloadRegion(compared()),
        ("saxpy", _) => ValidationKind::Saxpy(compared()),
        ("sgemm", _) => ValidationKind::Sgemm(compared()),
        ("render", _) => render(RenderApi::Gles)?,
        ("render-gl", _) => render(RenderApi::OpenGl)?,
        ("va-context", _) => {
            // The profile was only recorded in the device's properties.
            let profile = device
                .get("properties")
                .and_then(|p| p.get("validation_profile"))
                .and_then(Value::as_str)
                .ok_or("a va-context without the device property validation_profile")?;
            ValidationKind::VaContext(VaContext {
                profile: profile.to_owned(),
            })
        }
        ("codec-query", _) => {
            let names = |list: &[&str]| list.iter().map(|c| (*c).to_owned()).collect();
            let (decode, encode) = match old.elements {
                5 => (names(&DECODE_CODECS), names(&ENCODE_CODECS)),
                4 => (names(&DECODE_CODECS), Vec::new()),
                1 => (Vec::new(), names(&ENCODE_CODECS)),
                n => {
                    return Err(format!(
                        "{n} codec queries is not a number a probe answered"
                    ))
                }
            };
            ValidationKind::CodecQuery(CodecQuery { decode, encode })
        }
        (other, _) => {
            let mut fields = Map::new();
            fields.insert("elements".into(), old.elements.into());
            fields.insert("max_abs_error".into(), old.max_abs_error.into());
            ValidationKind::Unknown {
                kind: other.to_owned(),
                fields,
            }
        }
    };
    Ok(Validation {
        kind,
        passed: old.passed,
        elapsed_ms: old.elapsed_ms,
    })
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::super::{Report, ReportReadError, Status};
    use super::*;

    fn old(kernel: &str, passed: bool, max_abs_error: Value, elements: u64) -> Value {
        json!({"kernel": kernel, "passed": passed, "max_abs_error": max_abs_error,
               "elapsed_ms": 1.5, "elements": elements})
    }

    fn device(validation: Value, gemm_validation: Value, properties: Value) -> Value {
        json!({"name": "d", "vendor": "v", "kind": "gpu", "status": "validated", "reason": null,
               "api_version": null, "driver_version": null, "memory_bytes": null,
               "validation": validation, "gemm_validation": gemm_validation,
               "features": [], "properties": properties})
    }

    fn schema_1(backends: Vec<(&str, Vec<Value>)>) -> String {
        let backends: Vec<Value> = backends
            .into_iter()
            .map(|(name, devices)| {
                json!({"name": name, "status": "validated", "reason": null, "library": null,
                       "devices": devices})
            })
            .collect();
        json!({"schema": 1, "hwspec_version": "0.1.0", "level": "full", "capabilities": [],
               "backends": backends, "elapsed_ms": 9.0,
               "host": {"kernel": "Linux", "architecture": "x86_64", "root": true,
                        "driver_cache": null}})
        .to_string()
    }

    /// The validations of the first device of each backend, as JSON.
    fn validations(report: &Report) -> Vec<Value> {
        report
            .backends
            .iter()
            .flat_map(|b| &b.devices)
            .map(|d| serde_json::to_value(&d.validations).unwrap())
            .collect()
    }

    /// Every kind schema 1 wrote under `kernel`, told apart by its name and backend, with the
    /// figures carried over and nothing schema 1 did not record made up.
    #[test]
    fn every_schema_1_kernel_becomes_the_kind_that_ran() {
        let none = json!({});
        let text = schema_1(vec![
            (
                "opencl",
                vec![device(
                    old("saxpy", true, json!(0.0), 1 << 20),
                    old("sgemm", false, json!(0.5), 16384),
                    none.clone(),
                )],
            ),
            (
                "egl",
                vec![
                    device(
                        old("render", true, json!(1.0), 16384),
                        old("render-gl", false, json!(40.0), 16384),
                        none.clone(),
                    ),
                    device(Value::Null, Value::Null, none.clone()),
                ],
            ),
            (
                "vaapi",
                vec![device(
                    old("va-context", true, json!(0.0), 0),
                    Value::Null,
                    json!({"validation_profile": "HEVCMain"}),
                )],
            ),
            (
                "nvcodec",
                vec![
                    device(
                        old("codec-query", true, json!(0.0), 5),
                        Value::Null,
                        none.clone(),
                    ),
                    device(
                        old("codec-query", true, json!(0.0), 1),
                        Value::Null,
                        none.clone(),
                    ),
                ],
            ),
            (
                "gcc_offload",
                vec![device(
                    old("saxpy", false, Value::Null, 1000),
                    Value::Null,
                    none.clone(),
                )],
            ),
            (
                "cuda",
                vec![device(
                    old("future-kernel", true, json!(0.0), 7),
                    Value::Null,
                    none,
                )],
            ),
        ]);
        let report = Report::from_json(&text).unwrap();
        assert_eq!(report.schema, SCHEMA_VERSION);
        assert_eq!(report.backends[0].devices[0].status, Status::Validated);
        let extra = |mut v: Value, passed: bool| {
            v["passed"] = passed.into();
            v["elapsed_ms"] = 1.5.into();
            v
        };
        assert_eq!(
            validations(&report),
            [
                json!([
                    extra(
                        json!({"kind": "saxpy", "elements": 1 << 20, "max_abs_error": 0.0}),
                        true
                    ),
                    extra(
                        json!({"kind": "sgemm", "elements": 16384, "max_abs_error": 0.5}),
                        false
                    ),
                ]),
                json!([
                    extra(
                        json!({"kind": "render", "api": "gles", "pixels": 4096,
                                 "mismatched_pixels": 0, "max_channel_error": 1}),
                        true
                    ),
                    extra(
                        json!({"kind": "render", "api": "opengl", "pixels": 4096,
                                 "mismatched_pixels": null, "max_channel_error": 40}),
                        false
                    ),
                ]),
                json!([]),
                json!([extra(
                    json!({"kind": "va-context", "profile": "HEVCMain"}),
                    true
                )]),
                json!([extra(
                    json!({"kind": "codec-query",
                                    "decode": ["h264", "hevc", "vp9", "av1"],
                                    "encode": ["h264", "hevc", "av1"]}),
                    true
                )]),
                json!([extra(
                    json!({"kind": "codec-query", "decode": [],
                                    "encode": ["h264", "hevc", "av1"]}),
                    true
                )]),
                json!([extra(
                    json!({"kind": "offload-region", "elements": 1000,
                                    "max_abs_error": null}),
                    false
                )]),
                json!([extra(
                    json!({"kind": "future-kernel", "elements": 7,
                                    "max_abs_error": 0.0}),
                    true
                )]),
            ]
        );
        // Written again, it is a schema-2 report that reads back the same.
        let again = serde_json::to_string(&report).unwrap();
        assert_eq!(Report::from_json(&again).unwrap(), report);
    }

    /// What schema 1 cannot say is refused with the device named, never guessed.
    #[test]
    fn a_schema_1_validation_that_says_too_little_is_refused_by_name() {
        let none = json!({});
        for (backend, validation, properties, why) in [
            (
                "vaapi",
                old("va-context", true, json!(0.0), 0),
                none.clone(),
                "vaapi device 0: schema-1 validation: a va-context without the device property \
                 validation_profile",
            ),
            (
                "nvcodec",
                old("codec-query", true, json!(0.0), 3),
                none.clone(),
                "nvcodec device 0: schema-1 validation: 3 codec queries",
            ),
            (
                "egl",
                old("render", false, json!(2.5), 16384),
                none.clone(),
                "egl device 0: schema-1 validation: a render's max_abs_error Some(2.5)",
            ),
            (
                "cpu",
                json!({"kernel": "saxpy", "passed": "yes"}),
                none.clone(),
                "cpu device 0: schema-1 validation: invalid type",
            ),
        ] {
            let text = schema_1(vec![(
                backend,
                vec![device(validation, Value::Null, properties)],
            )]);
            match Report::from_json(&text) {
                Err(ReportReadError::Malformed(message)) => {
                    assert!(message.starts_with(why), "{message}")
                }
                other => panic!("{backend}: {other:?}"),
            }
        }
    }
}
