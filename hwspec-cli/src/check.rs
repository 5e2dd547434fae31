//! `hwspec check` and `hwspec apt-hook`: judging requirements against this machine.

use std::fmt::Write as _;
use std::io::{self, Read};
use std::os::unix::ffi::OsStrExt;
use std::panic::{self, AssertUnwindSafe};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use hwspec_core::control::{self, FieldValue, Kind};
use hwspec_core::model::ReasonCode;
use hwspec_core::spec::{self, Requirement, Verdict};
use hwspec_core::text::printable_path;
use hwspec_core::Report;
use serde::Serialize;

use crate::cli::{AptHookArgs, CheckArgs};
use crate::{diagnose, json, printable_text, report, write_stdout, Failure};

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
    let sources = if args.worker_tag.is_some() {
        Vec::new()
    } else {
        requirement_sources(args)?
    };
    let parsed = sources
        .into_iter()
        .map(|source| {
            let requirement = parse(&source.location, &source.text)?;
            Ok((source.origin, source.package, requirement))
        })
        .collect::<Result<Vec<_>, Failure>>()?;

    let (report, overrides) = report(&args.probe)?;
    let mut judged: Vec<Judged> = parsed
        .into_iter()
        .map(|(origin, package, requirement)| Judged {
            expression: requirement.to_string(),
            verdict: spec::evaluate(&requirement, &report, &overrides),
            origin,
            package,
        })
        .collect();
    if let Some(tag) = &args.worker_tag {
        judged.push(Judged {
            origin: "worker tag".to_owned(),
            package: None,
            expression: tag.to_string(),
            verdict: crate::export::debci::judge_tag(tag, &report),
        });
    }
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
        write_stdout(printable_text(explain(&judged, &report)).as_bytes())?;
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
                "give an expression, --control, --dsc, --deb or --worker-tag".into(),
            ))
        }
    };
    let fields = control::from_path(path, kind, args.package.as_deref())
        .map_err(|e| Failure::Invalid(e.to_string()))?;
    if kind == Kind::Control {
        for warning in fields.iter().filter_map(control::spelling_warning) {
            diagnose(&format!(
                "warning: {}: {}",
                file_line(path, warning.line),
                warning.message
            ));
        }
    }
    let mut sources: Vec<Source> = fields
        .into_iter()
        .map(|field| source_of(path, field))
        .collect();
    for field in control::rocm_fields(path, kind, args.package.as_deref())
        .map_err(|e| Failure::Invalid(e.to_string()))?
    {
        if let Some(expression) = rocm_requirement(&field)? {
            let origin = format!("{}, {}", field.origin, field.field);
            sources.push(Source {
                location: origin.clone(),
                origin,
                package: field.package,
                text: expression,
            });
        }
    }
    Ok(sources)
}

/// `FILE:LINE`, or `FILE` without a line.
fn file_line(path: &Path, line: Option<usize>) -> String {
    match line {
        Some(line) => format!("{}:{line}", printable_path(path)),
        None => printable_path(path),
    }
}

/// A ROCm target list as a requirement: a validated AMD GPU of one of the listed targets,
/// generic targets standing for the real ones their code runs on. `None` for an empty list.
/// Generic targets hwspec does not know are named on standard error and count for nothing; a
/// list of nothing else cannot be judged and is an error.
fn rocm_requirement(field: &control::RocmField) -> Result<Option<String>, Failure> {
    let entries = hwspec_core::amdgpu::parse_target_list(&field.value)
        .map_err(|e| Failure::Invalid(format!("{}: {}: {e}", field.origin, field.field)))?;
    if entries.is_empty() {
        return Ok(None);
    }
    let mut targets: Vec<String> = Vec::new();
    let mut unknown: Vec<&str> = Vec::new();
    for entry in &entries {
        if let hwspec_core::amdgpu::TargetEntry::UnknownGeneric(name) = entry {
            unknown.push(name);
        }
        for target in entry.real_targets() {
            let capability = format!("rocm-{target}");
            if !targets.contains(&capability) {
                targets.push(capability);
            }
        }
    }
    if !unknown.is_empty() {
        crate::diagnose(&format!(
            "warning: {}: {}: hwspec does not know which GPUs {} covers; not counted",
            field.origin,
            field.field,
            unknown.join(", ")
        ));
    }
    if targets.is_empty() {
        return Err(Failure::Invalid(format!(
            "{}: {} names only generic targets hwspec does not know ({}): it cannot tell which GPUs run this package",
            field.origin,
            field.field,
            unknown.join(", ")
        )));
    }
    Ok(Some(targets.join(" | ")))
}

fn source_of(path: &Path, field: FieldValue) -> Source {
    // The origin is the path, then `, stanza` for a debian/control.
    let stanza = field
        .origin
        .strip_prefix(&printable_path(path))
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

/// The most bytes of apt's hook input read. apt sends its whole configuration and one line per
/// package action: a few hundred KiB for the largest upgrades.
pub const MAX_HOOK_INPUT: u64 = 16 * 1024 * 1024;

/// Protocol problems shown one by one; a flood of junk lines gets one more line saying how many.
const MAX_PROBLEMS_SHOWN: usize = 10;

/// Reasons for which a backend's state says more about this probe than about the machine: a
/// refusal is never based on a report that has one of them.
const INCOMPLETE_PROBE: &[ReasonCode] = &[
    ReasonCode::Timeout,
    ReasonCode::Crashed,
    ReasonCode::BadOutput,
    ReasonCode::PartialOutput,
    ReasonCode::WorkerFailed,
    ReasonCode::ProbeFailed,
];

/// The apt configuration option that makes the hook refuse, as `--refuse` does.
const REFUSE_OPTION: &str = "Hwspec::Refuse";

/// What apt's `DPkg::Pre-Install-Pkgs` protocol gave the hook: the packages being installed,
/// whether apt's configuration asks for refusal, and what could not be understood (each a
/// warning, never a reason to fail).
#[derive(Debug, Default, PartialEq)]
pub struct HookInput {
    /// The .deb files about to be installed.
    pub debs: Vec<HookDeb>,
    /// `Hwspec::Refuse` from apt's configuration, when set to a boolean apt understands.
    pub refuse: Option<bool>,
    /// Lines or sections that do not follow the protocol, and an unreadable `Hwspec::Refuse`.
    pub problems: Vec<String>,
}

/// One .deb an apt hook is given.
#[derive(Debug, PartialEq)]
pub struct HookDeb {
    /// The file, as apt named it (any bytes: a path need not be UTF-8).
    pub path: PathBuf,
    /// Some version of the package is installed already: this is an upgrade, a downgrade or a
    /// reinstall. Version 1 of the protocol does not say, and counts every package as new.
    pub installed: bool,
}

/// Parses apt's hook input. Version 1 of the protocol sends one absolute path per line;
/// versions 2 and 3 send `VERSION N`, configuration lines up to a blank line, then one line
/// per package action: the package, old and new versions (with architecture and multi-arch
/// kind in version 3) and a comparison, space-separated, then the .deb being installed, which
/// may hold spaces, or `**CONFIGURE**`, `**REMOVE**` or `**ERROR**`, which name no file. The
/// old version is `-` when the package is not installed.
pub fn hook_debs(input: &[u8]) -> HookInput {
    let mut parsed = HookInput::default();
    // Every line ends in a newline; what follows the last one is not an empty line.
    let mut lines = input
        .strip_suffix(b"\n")
        .unwrap_or(input)
        .split(|&b| b == b'\n')
        .enumerate()
        .map(|(index, line)| (index + 1, line));
    let fields_before_path = match input.strip_prefix(b"VERSION ") {
        None => 0,
        Some(rest) => {
            let version = rest.split(|&b| b == b'\n').next().unwrap_or_default();
            let fields = match version {
                b"2" => 4,
                b"3" => 8,
                other => {
                    parsed.problems.push(format!(
                        "unsupported hook protocol version {}; configure version 2 or 3",
                        quoted_bytes(other)
                    ));
                    return parsed;
                }
            };
            lines.next();
            let mut ended = false;
            for (_, line) in lines.by_ref() {
                if line.is_empty() {
                    ended = true;
                    break;
                }
                configuration_line(line, &mut parsed);
            }
            if !ended {
                parsed.problems.push(
                    "the hook input ends inside apt's configuration section (truncated?)"
                        .to_owned(),
                );
                return parsed;
            }
            fields
        }
    };
    for (number, line) in lines {
        if line.is_empty() {
            continue;
        }
        let mut fields = line.splitn(fields_before_path + 1, |&b| b == b' ');
        let installed = fields_before_path > 0
            && line
                .split(|&b| b == b' ')
                .nth(1)
                .is_some_and(|old| old != b"-");
        let Some(path) = fields.nth(fields_before_path) else {
            parsed.problems.push(format!(
                "line {number} of the hook input has fewer than {} fields: {}",
                fields_before_path + 1,
                quoted_bytes(line)
            ));
            continue;
        };
        if matches!(path, b"**CONFIGURE**" | b"**REMOVE**" | b"**ERROR**") {
            continue;
        }
        if !path.starts_with(b"/") {
            parsed.problems.push(format!(
                "line {number} of the hook input does not end in an absolute path: {}",
                quoted_bytes(line)
            ));
            continue;
        }
        parsed.debs.push(HookDeb {
            path: PathBuf::from(std::ffi::OsStr::from_bytes(path)),
            installed,
        });
    }
    parsed
}

/// Reads the one option of apt's configuration the hook cares about, `Hwspec::Refuse`.
fn configuration_line(line: &[u8], parsed: &mut HookInput) {
    let Some(at) = line.iter().position(|&b| b == b'=') else {
        return;
    };
    let (name, value) = (&line[..at], &line[at + 1..]);
    if !name.eq_ignore_ascii_case(REFUSE_OPTION.as_bytes()) {
        return;
    }
    match std::str::from_utf8(value).ok().and_then(apt_boolean) {
        Some(refuse) => parsed.refuse = Some(refuse),
        None => parsed.problems.push(format!(
            "{REFUSE_OPTION} is {}, which is not a boolean; not refusing",
            quoted_bytes(value)
        )),
    }
}

/// A boolean as apt's configuration reads one (apt-pkg's `StringToBool`).
fn apt_boolean(value: &str) -> Option<bool> {
    match value.to_ascii_lowercase().as_str() {
        "1" | "yes" | "true" | "with" | "on" | "enable" => Some(true),
        "0" | "no" | "false" | "without" | "off" | "disable" => Some(false),
        _ => None,
    }
}

/// Untrusted bytes in quotes for a warning: cut when long, odd bytes escaped.
fn quoted_bytes(bytes: &[u8]) -> String {
    hwspec_core::text::quoted(&hwspec_core::text::printable_bytes(bytes))
}

/// `hwspec apt-hook`: warns (or with `--refuse`, refuses) when a package apt is about to install
/// declares a requirement this machine does not satisfy.
///
/// apt stops when its hook fails, so nothing but a real, well-formed, unsatisfied requirement
/// under `--refuse` ends in a non-zero status: unreadable or malformed input, an unreadable or
/// malformed package, a bad environment, an incomplete probe, even a panic inside hwspec, are
/// each a warning, and apt goes on.
pub fn apt_hook(args: &AptHookArgs) -> ExitCode {
    never_breaking_apt(|| hook(args))
}

/// The hook's exit status for what `body` did: its own status, or 0 with a warning for an
/// error or a panic. A `catch_unwind` is no substitute for inputs that cannot panic; it is the
/// last line between a bug in hwspec and a failed apt run.
fn never_breaking_apt(body: impl FnOnce() -> Result<ExitCode, Failure>) -> ExitCode {
    let goes_on = "no package was checked; apt goes on";
    match panic::catch_unwind(AssertUnwindSafe(body)) {
        Ok(Ok(code)) => code,
        Ok(Err(failure)) => {
            warn(&format!("{failure}; {goes_on}"));
            ExitCode::SUCCESS
        }
        Err(_) => {
            warn(&format!(
                "internal error (a panic, reported above); {goes_on}"
            ));
            ExitCode::SUCCESS
        }
    }
}

fn warn(message: &str) {
    diagnose(&format!("warning: {message}"));
}

fn hook(args: &AptHookArgs) -> Result<ExitCode, Failure> {
    let mut input = Vec::new();
    io::stdin()
        .lock()
        .take(MAX_HOOK_INPUT + 1)
        .read_to_end(&mut input)?;
    if input.len() as u64 > MAX_HOOK_INPUT {
        return Err(Failure::Invalid(format!(
            "apt's hook input is larger than {} MiB",
            MAX_HOOK_INPUT / (1024 * 1024)
        )));
    }
    let parsed = hook_debs(&input);
    for problem in parsed.problems.iter().take(MAX_PROBLEMS_SHOWN) {
        warn(problem);
    }
    if parsed.problems.len() > MAX_PROBLEMS_SHOWN {
        warn(&format!(
            "{} more problems in the hook input are not shown",
            parsed.problems.len() - MAX_PROBLEMS_SHOWN
        ));
    }
    let asked_to_refuse = args.refuse || parsed.refuse == Some(true);
    let mut wanted = Vec::new();
    for deb in &parsed.debs {
        match read_requirement(&deb.path) {
            Ok(Some(found)) => wanted.push((deb.installed, found)),
            Ok(None) => {}
            Err(message) => warn(&message),
        }
    }
    // Most packages ask for nothing: then no probe is needed, cached or not.
    if wanted.is_empty() {
        return Ok(ExitCode::SUCCESS);
    }
    let (report, overrides) = report(&args.probe)?;
    let incomplete = incomplete_probe(&report);
    let refuse = asked_to_refuse && incomplete.is_empty();
    let mut unmet = Vec::new();
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
        diagnose(&format!(
            "{verb}: {package} ({}) requires `{requirement}`, which this machine does not satisfy: {why}{note}",
            printable_path(&deb)
        ));
        if refusing {
            refused.push(package);
        } else {
            unmet.push(package);
        }
    }
    if asked_to_refuse && !refuse && !unmet.is_empty() {
        warn(&format!(
            "not refusing: the probe was incomplete ({}), so this may not be the machine's answer",
            incomplete.join(", ")
        ));
    }
    if refused.is_empty() {
        return Ok(ExitCode::SUCCESS);
    }
    diagnose(&format!(
        "refusing the installation of {} (apt's hook: hwspec apt-hook with --refuse or {REFUSE_OPTION})",
        refused.join(", ")
    ));
    Ok(ExitCode::from(1))
}

/// The backends whose state is a failure of this probe rather than a fact about the machine,
/// as `name: reason`.
fn incomplete_probe(report: &Report) -> Vec<String> {
    report
        .backends
        .iter()
        .filter_map(|b| {
            let reason = b.reason.as_ref()?;
            INCOMPLETE_PROBE
                .contains(&reason.code)
                .then(|| format!("{}: {}", b.name.as_str(), reason.code))
        })
        .collect()
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
    let package = field.package.unwrap_or_else(|| printable_path(deb));
    let requirement = spec::parse(&text).map_err(|e| {
        format!(
            "{} ({}): its {} is invalid and is ignored: {e}",
            package,
            printable_path(deb),
            field.field
        )
    })?;
    Ok(Some((deb.to_owned(), package, requirement)))
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    #[test]
    fn version_1_hook_input_is_one_path_per_line() {
        let parsed = hook_debs(b"/var/cache/apt/archives/a_1_amd64.deb\n\n/tmp/my b_2_all.deb\n");
        assert_eq!(
            paths(&parsed),
            [
                PathBuf::from("/var/cache/apt/archives/a_1_amd64.deb"),
                PathBuf::from("/tmp/my b_2_all.deb")
            ]
        );
        assert!(parsed.problems.is_empty());
        assert!(parsed.debs.iter().all(|d| !d.installed));
        assert_eq!(parsed.refuse, None);
    }

    fn paths(parsed: &HookInput) -> Vec<PathBuf> {
        parsed.debs.iter().map(|d| d.path.clone()).collect()
    }

    #[test]
    fn version_2_and_3_hook_input_skip_the_configuration_and_removals() {
        let v2 = b"VERSION 2\nAPT::Architecture=amd64\nDir=/\n\n\
                   a - < 1.0 /var/cache/apt/archives/a_1.0_amd64.deb\n\
                   b 1.0 > 0.9 **REMOVE**\n\
                   c - < 2.0 **CONFIGURE**\n\
                   d - < 1 /tmp/with space.deb\n";
        let parsed = hook_debs(v2);
        assert_eq!(
            paths(&parsed),
            [
                PathBuf::from("/var/cache/apt/archives/a_1.0_amd64.deb"),
                PathBuf::from("/tmp/with space.deb")
            ]
        );
        assert!(parsed.problems.is_empty());
        let v3 = b"VERSION 3\nDir=/\n\n\
                   a - - none < 1.0 amd64 same /var/cache/apt/archives/a_1.0_amd64.deb\n\
                   b 1.0 amd64 none > - - none **REMOVE**\n";
        assert_eq!(
            paths(&hook_debs(v3)),
            [PathBuf::from("/var/cache/apt/archives/a_1.0_amd64.deb")]
        );
    }

    /// Lines as apt writes them, and near misses of them.
    fn hook_line() -> impl Strategy<Value = Vec<u8>> {
        prop_oneof![
            Just(b"".to_vec()),
            Just(b"VERSION 2".to_vec()),
            Just(b"VERSION 3".to_vec()),
            Just(b"APT::Architecture=amd64".to_vec()),
            Just(b"a - < 1.0 /var/cache/apt/archives/a_1.0_all.deb".to_vec()),
            Just(b"a - - none < 1.0 all none /var/cache/apt/archives/a_1.0_all.deb".to_vec()),
            Just(b"b 1.0 > - **REMOVE**".to_vec()),
            "[ a-z0-9/.<>=*:-]{0,40}".prop_map(String::into_bytes),
            prop::collection::vec(any::<u8>(), 0..60),
        ]
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(512))]

        /// apt's hook protocol, fuzzed: any bytes, and lines shuffled from the real thing. The
        /// parser never panics, every package it returns is an absolute path taken from the
        /// input, and every problem is printable as it is.
        #[test]
        fn hook_input_parsing_is_total(
            lines in prop::collection::vec(hook_line(), 0..12),
            noise in prop::collection::vec(any::<u8>(), 0..300),
        ) {
            for input in [lines.join(&b'\n'), noise] {
                let parsed = hook_debs(&input);
                for deb in &parsed.debs {
                    let bytes = deb.path.as_os_str().as_bytes();
                    prop_assert!(bytes.starts_with(b"/"));
                    prop_assert!(input.windows(bytes.len()).any(|w| w == bytes));
                }
                for problem in &parsed.problems {
                    prop_assert!(!problem.chars().any(char::is_control), "{}", problem);
                }
            }
        }
    }

    #[test]
    fn errors_and_panics_inside_the_hook_let_apt_go_on() {
        let code =
            |body: fn() -> Result<ExitCode, Failure>| format!("{:?}", never_breaking_apt(body));
        let success = format!("{:?}", ExitCode::SUCCESS);
        assert_eq!(code(|| panic!("a bug in hwspec")), success);
        assert_eq!(code(|| Err(Failure::Invalid("bad".into()))), success);
        assert_eq!(code(|| Err(Failure::Io(io::Error::other("gone")))), success);
        assert_eq!(
            code(|| Ok(ExitCode::from(1))),
            format!("{:?}", ExitCode::from(1))
        );
    }

    #[test]
    fn only_a_complete_probe_may_refuse() {
        let path = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../tests/fixtures/reports/debian12-x86_64-pocl-lavapipe-full.json"
        );
        let mut report = Report::from_json(&std::fs::read_to_string(path).unwrap()).unwrap();
        assert_eq!(incomplete_probe(&report), Vec::<String>::new());
        let cuda = report
            .backends
            .iter_mut()
            .find(|b| b.name == hwspec_core::BackendName::Cuda)
            .unwrap();
        cuda.status = hwspec_core::Status::Unusable;
        cuda.reason = Some(hwspec_core::model::Reason::new(
            ReasonCode::Timeout,
            "stage init: no answer within 20 s",
        ));
        assert_eq!(incomplete_probe(&report), ["cuda: timeout"]);
    }

    #[test]
    fn malformed_hook_input_is_a_list_of_problems_not_a_failure() {
        let parsed = hook_debs(b"VERSION 2\nDir=/\n");
        assert!(parsed.debs.is_empty());
        assert!(parsed.problems[0].contains("truncated"), "{parsed:?}");
        let parsed = hook_debs(b"VERSION 9\n\n");
        assert!(parsed.problems[0].contains("unsupported hook protocol version \"9\""));
        let parsed = hook_debs(b"VERSION 2\n\nshort line\na - < 1 relative.deb\nb - < 1 /ok.deb\n");
        assert_eq!(paths(&parsed), [PathBuf::from("/ok.deb")]);
        assert_eq!(parsed.problems.len(), 2, "{parsed:?}");
        assert!(parsed.problems[0].contains("line 3"), "{parsed:?}");
        let parsed = hook_debs(b"/var/cache/apt/archives/\xff\x1b.deb\n");
        assert_eq!(
            parsed.debs[0].path.as_os_str().as_bytes(),
            b"/var/cache/apt/archives/\xff\x1b.deb"
        );
        let parsed = hook_debs(b"\x1b[2Jnot a path\n");
        assert!(parsed.problems[0].contains("\\x1b[2J"), "{parsed:?}");
    }

    #[test]
    fn version_2_and_3_hook_input_say_what_is_installed() {
        let v2 = b"VERSION 2\nAPT::Architecture=amd64\n\n\
                   a - < 1.0 /var/cache/apt/archives/a_1.0_amd64.deb\n\
                   d 1.0 < 2.0 /var/cache/apt/archives/d_2.0_all.deb\n";
        let installed: Vec<_> = hook_debs(v2).debs.iter().map(|d| d.installed).collect();
        assert_eq!(installed, [false, true]);
        // Lines as apt 2.6 sends them with `DPkg::Tools::Options::...::Version "3"`.
        let v3 = b"VERSION 3\nAPT::Architecture=amd64\n\n\
                   new - - none < 1.0 all none /tmp/new_1.0_all.deb\n\
                   old 1.0 amd64 same < 2.0 amd64 same /tmp/old_2.0_amd64.deb\n\
                   new - - none < 1.0 all none **CONFIGURE**\n";
        let installed: Vec<_> = hook_debs(v3).debs.iter().map(|d| d.installed).collect();
        assert_eq!(installed, [false, true]);
    }

    #[test]
    fn refusal_is_read_from_apts_configuration() {
        let with =
            |value: &str| hook_debs(format!("VERSION 2\nhwspec::refuse={value}\n\n").as_bytes());
        assert_eq!(with("true").refuse, Some(true));
        assert_eq!(with("1").refuse, Some(true));
        assert_eq!(with("no").refuse, Some(false));
        let garbage = with("maybe");
        assert_eq!(garbage.refuse, None);
        assert!(garbage.problems[0].contains("not a boolean"), "{garbage:?}");
        let hostile = hook_debs(b"VERSION 2\nHwspec::Refuse=\xff\x1b\n\n");
        assert_eq!(hostile.refuse, None);
        assert!(hostile.problems[0].contains("\\x1b"), "{hostile:?}");
        // Version 1 sends no configuration, and a path is never an option.
        assert_eq!(hook_debs(b"Hwspec::Refuse=true\n").refuse, None);
    }
}
