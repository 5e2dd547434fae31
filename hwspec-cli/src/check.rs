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
        .map(|source| {
            let requirement = parse(&source.location, &source.text)?;
            Ok((source.origin, source.package, requirement))
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

/// One expression to judge.
struct Source {
    /// Where it was read, as `Judged::origin`.
    origin: String,
    /// Where it was read, for error messages: `FILE:LINE (stanza)` where the file has lines.
    location: String,
    package: Option<String>,
    /// The expression; a package without the field requires `cpu`, written as "".
    text: String,
}

/// The expressions to judge. For a `debian/control`, warns on stderr about each requirement
/// spelled so that dpkg will not copy it into the `.dsc` or `.deb` where it is read.
fn requirement_sources(args: &CheckArgs) -> Result<Vec<Source>, Failure> {
    if let Some(expr) = &args.expr {
        return Ok(vec![Source {
            origin: "command line".to_owned(),
            location: "command line".to_owned(),
            package: None,
            text: expr.clone(),
        }]);
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
    if kind == Kind::Control {
        for warning in fields.iter().filter_map(control::spelling_warning) {
            eprintln!(
                "hwspec: warning: {}: {}",
                file_line(path, warning.line),
                warning.message
            );
        }
    }
    Ok(fields
        .into_iter()
        .map(|field| source_of(path, field))
        .collect())
}

/// `FILE:LINE`, or `FILE` without a line.
fn file_line(path: &Path, line: Option<usize>) -> String {
    match line {
        Some(line) => format!("{}:{line}", path.display()),
        None => path.display().to_string(),
    }
}

fn source_of(path: &Path, field: FieldValue) -> Source {
    // The origin is the path, then `, stanza` for a debian/control.
    let stanza = field
        .origin
        .strip_prefix(&path.display().to_string())
        .and_then(|rest| rest.strip_prefix(", "))
        .map(|stanza| format!(" ({stanza})"))
        .unwrap_or_default();
    Source {
        location: format!("{}{stanza}", file_line(path, field.line)),
        origin: field.origin,
        package: field.package,
        text: field.value.unwrap_or_default(),
    }
}

fn parse(location: &str, text: &str) -> Result<Requirement, Failure> {
    spec::parse(text).map_err(|e| {
        Failure::Invalid(format!(
            "{location}: invalid requirement: {e}\n{}",
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

/// The apt configuration option that makes the hook refuse, as `--refuse` does.
const REFUSE_OPTION: &str = "Hwspec::Refuse";

/// What an APT `DPkg::Pre-Install-Pkgs` hook is given on stdin. Version 1 of the protocol sends
/// one .deb path per line; versions 2 and 3 send `VERSION N`, apt's configuration as
/// `Name=Value` lines up to a blank line, then one line per package action: its name, the
/// installed version (`-` when it is not installed), and for version 3 architecture fields,
/// then the new version and, last, the .deb being installed (or `**CONFIGURE**`, `**REMOVE**`,
/// which name no file).
#[derive(Debug, Default, PartialEq)]
pub struct HookInput {
    /// The .deb files about to be installed.
    pub debs: Vec<HookDeb>,
    /// `Hwspec::Refuse` from apt's configuration, when set to a boolean apt understands.
    pub refuse: Option<bool>,
    /// Problems with the input, as warnings (an unreadable `Hwspec::Refuse`).
    pub warnings: Vec<String>,
}

/// One .deb an apt hook is given.
#[derive(Debug, PartialEq)]
pub struct HookDeb {
    pub path: PathBuf,
    /// Some version of the package is installed already: this is an upgrade, a downgrade or a
    /// reinstall. Version 1 of the protocol does not say, and counts every package as new.
    pub installed: bool,
}

pub fn hook_input(input: &str) -> HookInput {
    let mut hook = HookInput::default();
    let mut lines = input.lines();
    let versioned = input.starts_with("VERSION ");
    if versioned {
        lines.next();
        for line in lines.by_ref() {
            if line.trim().is_empty() {
                break;
            }
            let Some((name, value)) = line.split_once('=') else {
                continue;
            };
            if name.eq_ignore_ascii_case(REFUSE_OPTION) {
                match apt_boolean(value) {
                    Some(refuse) => hook.refuse = Some(refuse),
                    None => hook.warnings.push(format!(
                        "{REFUSE_OPTION} is {value:?}, which is not a boolean; not refusing"
                    )),
                }
            }
        }
    }
    for line in lines {
        let fields: Vec<&str> = line.split_whitespace().collect();
        let (candidate, installed) = if versioned {
            let installed = fields.get(1).is_some_and(|old| *old != "-");
            (fields.last().copied().unwrap_or(""), installed)
        } else {
            (line.trim(), false)
        };
        if candidate.ends_with(".deb") {
            hook.debs.push(HookDeb {
                path: PathBuf::from(candidate),
                installed,
            });
        }
    }
    hook
}

/// A boolean as apt's configuration reads one (apt-pkg's `StringToBool`).
fn apt_boolean(value: &str) -> Option<bool> {
    match value.to_ascii_lowercase().as_str() {
        "1" | "yes" | "true" | "with" | "on" | "enable" => Some(true),
        "0" | "no" | "false" | "without" | "off" | "disable" => Some(false),
        _ => None,
    }
}

pub fn apt_hook(args: &AptHookArgs) -> Result<ExitCode, Failure> {
    let mut input = String::new();
    for line in io::stdin().lock().lines() {
        input.push_str(&line?);
        input.push('\n');
    }
    let hook = hook_input(&input);
    for warning in &hook.warnings {
        eprintln!("hwspec: warning: {warning}");
    }
    let refuse = args.refuse || hook.refuse == Some(true);
    let mut wanted = Vec::new();
    for deb in &hook.debs {
        match read_requirement(&deb.path) {
            Ok(Some(found)) => wanted.push((deb.installed, found)),
            Ok(None) => {}
            Err(message) => eprintln!("hwspec: warning: {message}"),
        }
    }
    // Most packages ask for nothing: then no probe is needed, cached or not.
    if wanted.is_empty() {
        return Ok(ExitCode::SUCCESS);
    }
    let (report, overrides) = report(&args.probe)?;
    let mut refused = Vec::new();
    for (installed, (deb, package, requirement)) in wanted {
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
        // Refusing a package that is already installed protects nothing and would stop the
        // whole transaction, security updates and unattended-upgrades included.
        let refusing = refuse && !installed;
        let verb = if refusing { "error" } else { "warning" };
        let note = if refuse && installed {
            " (already installed, so not refused: an upgrade is only warned about)"
        } else {
            ""
        };
        eprintln!(
            "hwspec: {verb}: {package} ({}) requires `{requirement}`, which this machine does not satisfy: {why}{note}",
            deb.display()
        );
        if refusing {
            refused.push(package);
        }
    }
    if !refused.is_empty() {
        eprintln!(
            "hwspec: refusing the installation of {} (apt's hook: hwspec apt-hook with --refuse or {REFUSE_OPTION})",
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
        let hook = hook_input("/var/cache/apt/archives/a_1_amd64.deb\n\n/tmp/b_2_all.deb\n");
        let paths: Vec<_> = hook.debs.iter().map(|d| d.path.clone()).collect();
        assert_eq!(
            paths,
            [
                PathBuf::from("/var/cache/apt/archives/a_1_amd64.deb"),
                PathBuf::from("/tmp/b_2_all.deb")
            ]
        );
        assert!(hook.debs.iter().all(|d| !d.installed));
        assert_eq!(hook.refuse, None);
    }

    #[test]
    fn version_2_hook_input_skips_the_configuration_and_removals() {
        let input = "VERSION 2\nAPT::Architecture=amd64\nDir=/\n\n\
                     a - < 1.0 /var/cache/apt/archives/a_1.0_amd64.deb\n\
                     b 1.0 > 0.9 **REMOVE**\n\
                     c - < 2.0 **CONFIGURE**\n\
                     d 1.0 < 2.0 /var/cache/apt/archives/d_2.0_all.deb\n";
        assert_eq!(
            hook_input(input).debs,
            [
                HookDeb {
                    path: PathBuf::from("/var/cache/apt/archives/a_1.0_amd64.deb"),
                    installed: false
                },
                HookDeb {
                    path: PathBuf::from("/var/cache/apt/archives/d_2.0_all.deb"),
                    installed: true
                }
            ]
        );
    }

    /// Lines as apt 2.6 sends them with `DPkg::Tools::Options::...::Version "3"`.
    #[test]
    fn version_3_hook_input_says_what_is_installed() {
        let input = "VERSION 3\nAPT::Architecture=amd64\n\n\
                     new - - none < 1.0 all none /tmp/new_1.0_all.deb\n\
                     old 1.0 amd64 same < 2.0 amd64 same /tmp/old_2.0_amd64.deb\n\
                     new - - none < 1.0 all none **CONFIGURE**\n";
        let installed: Vec<_> = hook_input(input).debs.iter().map(|d| d.installed).collect();
        assert_eq!(installed, [false, true]);
    }

    #[test]
    fn refusal_is_read_from_apts_configuration() {
        let with = |value: &str| hook_input(&format!("VERSION 2\nhwspec::refuse={value}\n\n"));
        assert_eq!(with("true").refuse, Some(true));
        assert_eq!(with("1").refuse, Some(true));
        assert_eq!(with("no").refuse, Some(false));
        let garbage = with("maybe");
        assert_eq!(garbage.refuse, None);
        assert!(garbage.warnings[0].contains("not a boolean"), "{garbage:?}");
        // Version 1 sends no configuration, and a path is never an option.
        assert_eq!(hook_input("Hwspec::Refuse=true\n").refuse, None);
    }
}
