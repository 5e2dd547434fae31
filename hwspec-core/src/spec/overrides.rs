//! `HWSPEC_OVERRIDE_<CAP>` variables: test packaging logic on machines without the hardware,
//! as conda's `CONDA_OVERRIDE_CUDA` does. Overrides are never silent: a bad variable is an
//! error, and every applied one is returned so that outputs can show it.

use std::ffi::OsStr;
use std::fmt;

use serde::Serialize;

use super::vocab;
use crate::model::{Capability, Report};
use crate::text::printable_bytes;
use crate::version::parse_version;

/// The prefix of every override variable.
pub const OVERRIDE_PREFIX: &str = "HWSPEC_OVERRIDE_";

/// The value that removes a capability.
pub const ABSENT: &str = "absent";

/// One override applied to a report.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Override {
    /// The environment variable, e.g. `HWSPEC_OVERRIDE_CUDA_ARCH`.
    pub variable: String,
    /// The capability it set, e.g. `cuda-arch`.
    pub capability: String,
    /// The value as given: a version, `absent`, or for a flag any other word that sets it.
    pub value: String,
}

/// One override variable that could not be applied.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct BadOverride {
    /// The environment variable.
    pub variable: String,
    /// Its value.
    pub value: String,
    /// Why it was refused.
    pub reason: String,
}

/// Every override variable that could not be applied; the report is then left untouched.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct OverrideError {
    /// At least one refused variable, sorted by name.
    pub refused: Vec<BadOverride>,
}

impl fmt::Display for OverrideError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, bad) in self.refused.iter().enumerate() {
            if i > 0 {
                f.write_str("; ")?;
            }
            write!(f, "{}={}: {}", bad.variable, bad.value, bad.reason)?;
        }
        Ok(())
    }
}

impl std::error::Error for OverrideError {}

/// Applies the `HWSPEC_OVERRIDE_*` variables among `vars` (typically `std::env::vars_os()`) to
/// `report`'s capability set, all or nothing, and records them in `report.overrides`.
///
/// A variable whose name starts with the prefix but is not UTF-8, or whose value is not, is
/// refused like any other bad override: the environment is the caller's input, never a panic.
///
/// The capability is the rest of the variable name in lowercase with `_` as `-`
/// (`HWSPEC_OVERRIDE_CUDA_ARCH` is `cuda-arch`). `absent` removes it. For a versioned
/// capability any other value must be a Debian version, which replaces all its values; a
/// flag is set by any other non-empty value (`1`, `present`). Each override sets exactly one
/// capability: `x86-64-v3` does not imply `x86-64-v2`.
pub fn apply_overrides<K: AsRef<OsStr>, V: AsRef<OsStr>>(
    report: &mut Report,
    vars: impl IntoIterator<Item = (K, V)>,
) -> Result<Vec<Override>, OverrideError> {
    let mut applied: Vec<Override> = Vec::new();
    let mut refused: Vec<BadOverride> = Vec::new();
    for (variable, value) in vars {
        let (variable, value) = (variable.as_ref(), value.as_ref());
        if !variable
            .as_encoded_bytes()
            .starts_with(OVERRIDE_PREFIX.as_bytes())
        {
            continue;
        }
        let (Some(variable), Some(value)) = (variable.to_str(), value.to_str()) else {
            let part = if variable.to_str().is_none() {
                "name"
            } else {
                "value"
            };
            refused.push(BadOverride {
                variable: printable_bytes(variable.as_encoded_bytes()),
                value: printable_bytes(value.as_encoded_bytes()),
                reason: format!("the {part} is not UTF-8"),
            });
            continue;
        };
        let (variable, value) = (variable.to_owned(), value.to_owned());
        let Some(suffix) = variable.strip_prefix(OVERRIDE_PREFIX) else {
            continue;
        };
        let capability = suffix.to_lowercase().replace('_', "-");
        match check(&capability, &value, &applied) {
            Ok(()) => applied.push(Override {
                variable,
                capability,
                value,
            }),
            Err(reason) => refused.push(BadOverride {
                variable,
                value,
                reason,
            }),
        }
    }
    if !refused.is_empty() {
        refused.sort_by(|a, b| a.variable.cmp(&b.variable));
        return Err(OverrideError { refused });
    }
    applied.sort_by(|a, b| a.variable.cmp(&b.variable));
    report.overrides = applied
        .iter()
        .map(|o| (o.variable.clone(), o.value.clone()))
        .collect();
    for o in &applied {
        report.capabilities.retain(|c| c.name != o.capability);
        if o.value == ABSENT {
            continue;
        }
        report
            .capabilities
            .push(if vocab::is_versioned(&o.capability) {
                Capability::versioned(&o.capability, &o.value)
            } else {
                Capability::flag(&o.capability)
            });
    }
    // Keep the order `caps::reduce` promises: by name, then by version.
    crate::model::sort_capabilities(&mut report.capabilities);
    Ok(applied)
}

fn check(capability: &str, value: &str, applied: &[Override]) -> Result<(), String> {
    if !vocab::is_known(capability) {
        let hint = vocab::closest(capability)
            .map(|name| format!("; did you mean `{name}`?"))
            .unwrap_or_default();
        return Err(format!("unknown capability `{capability}`{hint}"));
    }
    if let Some(earlier) = applied.iter().find(|o| o.capability == capability) {
        return Err(format!(
            "`{capability}` is already set by {}",
            earlier.variable
        ));
    }
    if value.is_empty() {
        return Err(format!(
            "empty value: give a version, or `{ABSENT}` to remove the capability"
        ));
    }
    if value == ABSENT || !vocab::is_versioned(capability) {
        return Ok(());
    }
    parse_version(value)
        .map(drop)
        .map_err(|why| format!("`{value}` is not a version for `{capability}`: {why}"))
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;
    use crate::model::{HostInfo, Level, SCHEMA_VERSION};

    fn report(capabilities: Vec<Capability>) -> Report {
        Report {
            schema: SCHEMA_VERSION,
            hwspec_version: "test".into(),
            level: Level::Standard,
            capabilities,
            backends: Vec::new(),
            host: HostInfo {
                kernel: "Linux".into(),
                architecture: "x86_64".into(),
                root: false,
                driver_cache: None,
                environment: BTreeMap::new(),
                dropped_environment: Vec::new(),
            },
            elapsed_ms: 0.0,
            cache: None,
            overrides: Default::default(),
        }
    }

    fn vars(pairs: &[(&str, &str)]) -> impl Iterator<Item = (String, String)> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect::<Vec<_>>()
            .into_iter()
    }

    fn names(report: &Report) -> Vec<String> {
        report
            .capabilities
            .iter()
            .map(ToString::to_string)
            .collect()
    }

    #[test]
    fn versions_replace_every_value_and_absent_removes() {
        let mut r = report(vec![
            Capability::flag("cpu"),
            Capability::versioned("cuda-arch", "7.5"),
            Capability::versioned("cuda-arch", "9.0"),
            Capability::versioned("opencl", "3.0"),
        ]);
        let applied = apply_overrides(
            &mut r,
            vars(&[
                ("PATH", "/usr/bin"),
                ("HWSPEC_OVERRIDE_OPENCL", "absent"),
                ("HWSPEC_OVERRIDE_CUDA_ARCH", "8.6"),
                ("HWSPEC_OVERRIDE_CUDA", "12.4"),
                ("HWSPEC_OVERRIDE_GPU", "1"),
                ("HWSPEC_OVERRIDE_ROCM_GFX90A", "present"),
            ]),
        )
        .unwrap();
        assert_eq!(
            names(&r),
            [
                "cpu",
                "cuda (= 12.4)",
                "cuda-arch (= 8.6)",
                "gpu",
                "rocm-gfx90a"
            ]
        );
        assert_eq!(applied.len(), 5);
        assert_eq!(
            applied[1],
            Override {
                variable: "HWSPEC_OVERRIDE_CUDA_ARCH".into(),
                capability: "cuda-arch".into(),
                value: "8.6".into(),
            }
        );
        let json = serde_json::to_value(&applied[0]).unwrap();
        assert_eq!(json["variable"], "HWSPEC_OVERRIDE_CUDA");
    }

    #[test]
    fn without_variables_nothing_changes() {
        let mut r = report(vec![Capability::flag("cpu")]);
        let before = r.clone();
        assert_eq!(
            apply_overrides(&mut r, vars(&[("HOME", "/root")])),
            Ok(vec![])
        );
        assert_eq!(r, before);
    }

    #[test]
    fn bad_variables_are_all_listed_and_nothing_is_applied() {
        let mut r = report(vec![Capability::flag("cpu")]);
        let before = r.clone();
        let error = apply_overrides(
            &mut r,
            vars(&[
                ("HWSPEC_OVERRIDE_CDUA", "12.0"),
                ("HWSPEC_OVERRIDE_CUDA", "twelve"),
                ("HWSPEC_OVERRIDE_VULKAN", ""),
                ("HWSPEC_OVERRIDE_GPU", "1"),
            ]),
        )
        .unwrap_err();
        assert_eq!(r, before, "a partial override was applied");
        let refused: Vec<&str> = error.refused.iter().map(|b| b.variable.as_str()).collect();
        assert_eq!(
            refused,
            [
                "HWSPEC_OVERRIDE_CDUA",
                "HWSPEC_OVERRIDE_CUDA",
                "HWSPEC_OVERRIDE_VULKAN"
            ]
        );
        let message = error.to_string();
        assert!(
            message.contains(
                "HWSPEC_OVERRIDE_CDUA=12.0: unknown capability `cdua`; did you mean `cuda`?"
            ),
            "{message}"
        );
        assert!(
            message.contains(
                "`twelve` is not a version for `cuda`: a version must start with a digit"
            ),
            "{message}"
        );
        assert!(message.contains("empty value"), "{message}");
    }

    #[test]
    fn variables_that_are_not_utf8_are_refused_not_a_panic() {
        use std::ffi::OsString;
        use std::os::unix::ffi::OsStringExt;
        let mut r = report(vec![Capability::flag("cpu")]);
        let before = r.clone();
        let os = |bytes: &[u8]| OsString::from_vec(bytes.to_vec());
        let error = apply_overrides(
            &mut r,
            [
                (os(b"FOO"), os(b"\xff")),
                (os(b"\xff"), os(b"1")),
                (os(b"HWSPEC_OVERRIDE_CUDA"), os(b"12.\xff")),
                (os(b"HWSPEC_OVERRIDE_G\xffU"), os(b"1")),
            ],
        )
        .unwrap_err();
        assert_eq!(r, before);
        let reasons: Vec<(&str, &str)> = error
            .refused
            .iter()
            .map(|b| (b.variable.as_str(), b.reason.as_str()))
            .collect();
        assert_eq!(
            reasons,
            [
                ("HWSPEC_OVERRIDE_CUDA", "the value is not UTF-8"),
                ("HWSPEC_OVERRIDE_G\\xffU", "the name is not UTF-8"),
            ]
        );
        let applied = apply_overrides(&mut r, [(os(b"FOO"), os(b"\xff"))]).unwrap();
        assert!(applied.is_empty() && r.overrides.is_empty());
        apply_overrides(&mut r, vars(&[("HWSPEC_OVERRIDE_GPU", "1")])).unwrap();
        assert_eq!(r.overrides["HWSPEC_OVERRIDE_GPU"], "1");
    }

    #[test]
    fn one_capability_cannot_be_set_twice() {
        let mut r = report(vec![]);
        let error = apply_overrides(
            &mut r,
            vars(&[
                ("HWSPEC_OVERRIDE_CUDA", "12.0"),
                ("HWSPEC_OVERRIDE_cuda", "11.8"),
            ]),
        )
        .unwrap_err();
        assert_eq!(
            error.refused[0].reason,
            "`cuda` is already set by HWSPEC_OVERRIDE_CUDA"
        );
    }
}
