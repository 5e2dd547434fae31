//! `hwspec check` and `hwspec apt-hook`: judging requirements against this machine.

use std::fmt::Write as _;
use std::io::{self, BufRead};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use hwspec_core::control::{self, FieldValue, Kind};
use hwspec_core::spec::{self, Requirement, Verdict};
use hwspec_core::Report;
use serde::Serialize;

use crate::cli::{AptHookArgs, CheckArgs};
use crate::{json, report, write_stdout, Failure};

/// One requirement to judge and where it came from.
#[derive(Debug, Serialize)]
struct Judged {
    /// Where the expression was read (`command line`, `debian/control, binary stanza foo`).
    origin: String,
    /// The binary package it belongs to, if any.
    package: Option<String>,
    /// The expression in canonical form (`cpu` for an absent field).
    expression: String,
    /// The verdict, clause by clause.
    verdict: Verdict,
}

/// What `hwspec check --json` prints.
#[derive(Debug, Serialize)]
struct CheckOutput<'a> {
    satisfied: bool,
    requirements: &'a [Judged],
    level: hwspec_core::Level,
    cache: &'a Option<hwspec_core::model::CacheInfo>,
    overrides: &'a std::collections::BTreeMap<String, String>,
}

pub fn check(args: &CheckArgs) -> Result<ExitCode, Failure> {
    let sources = requirement_sources(args)?;
    let parsed = sources
        .into_iter()
        .map(|(origin, package, text)| {
            let requirement = parse(&origin, &text)?;
            Ok((origin, package, requirement))
        })
        .collect::<Result<Vec<_>, Failure>>()?;

    let (report, overrides) = report(&args.probe)?;
    let judged: Vec<Judged> = parsed
        .into_iter()
        .map(|(origin, package, requirement)| Judged {
            expression: requirement.to_string(),
            verdict: spec::evaluate(&requirement, &report, &overrides),
            origin,
            package,
        })
        .collect();
    let satisfied = judged.iter().all(|j| j.verdict.satisfied);

    if args.json {
        let output = CheckOutput {
            satisfied,
            requirements: &judged,
            level: report.level,
            cache: &report.cache,
            overrides: &report.overrides,
        };
        write_stdout(json(&output)?.as_bytes())?;
    } else if args.explain {
        write_stdout(explain(&judged, &report).as_bytes())?;
    }
    Ok(if satisfied {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(args.skip_code)
    })
}

/// The expressions to judge: `(origin, package, text)`. A package without the field requires
/// `cpu`, written as the empty expression.
fn requirement_sources(args: &CheckArgs) -> Result<Vec<(String, Option<String>, String)>, Failure> {
    if let Some(expr) = &args.expr {
        return Ok(vec![("command line".to_owned(), None, expr.clone())]);
    }
    let (path, kind): (&PathBuf, Kind) = match (&args.control, &args.dsc, &args.deb) {
        (Some(path), _, _) => (path, Kind::Control),
        (_, Some(path), _) => (path, Kind::Dsc),
        (_, _, Some(path)) => (path, Kind::Deb),
        _ => {
            return Err(Failure::Invalid(
                "give an expression, --control, --dsc or --deb".into(),
            ))
        }
    };
    let fields = control::from_path(path, kind, args.package.as_deref())
        .map_err(|e| Failure::Invalid(e.to_string()))?;
    Ok(fields.into_iter().map(source_of).collect())
}

fn source_of(field: FieldValue) -> (String, Option<String>, String) {
    (field.origin, field.package, field.value.unwrap_or_default())
}

fn parse(origin: &str, text: &str) -> Result<Requirement, Failure> {
    spec::parse(text).map_err(|e| {
        Failure::Invalid(format!(
            "{origin}: invalid requirement: {e}\n{}",
            e.render().trim_end()
        ))
    })
}

/// The `--explain` text: each requirement, each clause, each relation with its reason.
fn explain(judged: &[Judged], report: &Report) -> String {
    let mut out = String::new();
    for j in judged {
        out.push_str(
            &j.verdict
                .explanation(&format!("{}: {}", j.origin, j.expression)),
        );
    }
    if let Some(cache) = report.cache.as_ref().filter(|c| c.hit) {
        let _ = writeln!(
            out,
            "(answered from the report cache, {:.0} s old; --fresh probes again)",
            cache.age_seconds
        );
    }
    out
}

/// The .deb files an APT `DPkg::Pre-Install-Pkgs` hook is given on stdin. Version 1 of the
/// protocol sends one path per line; versions 2 and 3 send `VERSION N`, configuration lines up
/// to a blank line, then one line per package action whose last field is the .deb being
/// installed (or `**CONFIGURE**`, `**REMOVE**`, which name no file).
pub fn hook_debs(input: &str) -> Vec<PathBuf> {
    let mut lines = input.lines();
    let mut debs = Vec::new();
    let versioned = input.starts_with("VERSION ");
    if versioned {
        for line in lines.by_ref() {
            if line.trim().is_empty() {
                break;
            }
        }
    }
    for line in lines {
        let candidate = if versioned {
            line.split_whitespace().last().unwrap_or("")
        } else {
            line.trim()
        };
        if candidate.ends_with(".deb") {
            debs.push(PathBuf::from(candidate));
        }
    }
    debs
}

pub fn apt_hook(args: &AptHookArgs) -> Result<ExitCode, Failure> {
    let mut input = String::new();
    for line in io::stdin().lock().lines() {
        input.push_str(&line?);
        input.push('\n');
    }
    let mut wanted = Vec::new();
    for deb in hook_debs(&input) {
        match read_requirement(&deb) {
            Ok(Some(found)) => wanted.push(found),
            Ok(None) => {}
            Err(message) => diag!("hwspec: warning: {message}"),
        }
    }
    // Most packages ask for nothing: then no probe is needed, cached or not.
    if wanted.is_empty() {
        return Ok(ExitCode::SUCCESS);
    }
    let (report, overrides) = report(&args.probe)?;
    let mut refused = Vec::new();
    for (deb, package, requirement) in wanted {
        let verdict = spec::evaluate(&requirement, &report, &overrides);
        if verdict.satisfied {
            continue;
        }
        let why = verdict
            .clauses
            .iter()
            .filter(|c| !c.satisfied)
            .flat_map(|c| &c.relations)
            .map(|r| format!("{}: {}", r.text, r.explanation))
            .collect::<Vec<_>>()
            .join("; ");
        let verb = if args.refuse { "error" } else { "warning" };
        diag!(
            "hwspec: {verb}: {package} ({}) requires `{requirement}`, which this machine does not satisfy: {why}",
            deb.display()
        );
        refused.push(package);
    }
    if args.refuse && !refused.is_empty() {
        diag!(
            "hwspec: refusing the installation of {} (apt's hook: hwspec apt-hook --refuse)",
            refused.join(", ")
        );
        return Ok(ExitCode::from(1));
    }
    Ok(ExitCode::SUCCESS)
}

/// The requirement a .deb declares, `None` when it declares none; an error is a warning text.
fn read_requirement(deb: &Path) -> Result<Option<(PathBuf, String, Requirement)>, String> {
    let fields = control::from_path(deb, Kind::Deb, None).map_err(|e| e.to_string())?;
    let Some(field) = fields.into_iter().next() else {
        return Ok(None);
    };
    let Some(text) = field.value.filter(|v| !v.trim().is_empty()) else {
        return Ok(None);
    };
    let package = field.package.unwrap_or_else(|| deb.display().to_string());
    let requirement = spec::parse(&text).map_err(|e| {
        format!(
            "{} ({}): its {} is invalid and is ignored: {e}",
            package,
            deb.display(),
            field.field
        )
    })?;
    Ok(Some((deb.to_owned(), package, requirement)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn version_1_hook_input_is_one_path_per_line() {
        let debs = hook_debs("/var/cache/apt/archives/a_1_amd64.deb\n\n/tmp/b_2_all.deb\n");
        assert_eq!(
            debs,
            [
                PathBuf::from("/var/cache/apt/archives/a_1_amd64.deb"),
                PathBuf::from("/tmp/b_2_all.deb")
            ]
        );
    }

    #[test]
    fn version_2_hook_input_skips_the_configuration_and_removals() {
        let input = "VERSION 2\nAPT::Architecture=amd64\nDir=/\n\n\
                     a - < 1.0 /var/cache/apt/archives/a_1.0_amd64.deb\n\
                     b 1.0 > 0.9 **REMOVE**\n\
                     c - < 2.0 **CONFIGURE**\n";
        assert_eq!(
            hook_debs(input),
            [PathBuf::from("/var/cache/apt/archives/a_1.0_amd64.deb")]
        );
    }
}
