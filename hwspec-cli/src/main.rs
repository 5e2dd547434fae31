//! `hwspec`: probe which accelerators this machine can really use.
//!
//! Results go to stdout, diagnostics to stderr. Exit status: 0 when the command ran (for
//! `check`: satisfied), 1 when hwspec itself failed (for `check`: not satisfied, or the
//! `--skip-code`), 2 for invalid input or usage (clap's own code for usage errors).

// Everything unsafe (vendor runtimes, system calls) lives in hwspec-core's few designated files.
#![forbid(unsafe_code)]

mod cargo_env;
mod check;
mod cli;
mod export;
#[cfg(test)]
mod man;
mod output;
mod render;

use std::fmt;
use std::io::{self, Write};
use std::process::ExitCode;
use std::time::SystemTime;

use clap::{CommandFactory, Parser};
use hwspec_core::spec::Override;
use hwspec_core::{Answer, BackendName, CachePolicy, Level, ProbeOptions, Report, WorkerCommand};

use cli::{Cli, Commands, CondaDetectArgs, Format, ProbeArgs, ProbeOpts};

/// Why a command did not finish normally.
#[derive(Debug)]
pub enum Failure {
    /// The input was invalid (a malformed expression, file or override): exit 2.
    Invalid(String),
    /// hwspec itself failed (e.g. could not write its output): exit 1.
    Io(io::Error),
}

impl From<io::Error> for Failure {
    fn from(err: io::Error) -> Failure {
        Failure::Io(err)
    }
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Failure::Invalid(message) => f.write_str(message),
            Failure::Io(err) => write!(f, "{err}"),
        }
    }
}

fn main() -> ExitCode {
    // Started as a worker (`hwspec __worker BACKEND LEVEL`), this process never gets past here.
    if let Err(message) = hwspec_core::worker::run_if_asked() {
        diagnose(&message);
        return ExitCode::from(2);
    }
    // A caller that ignores SIGCHLD (some daemons, `trap '' CHLD`) passes that on to us, and
    // the kernel would then reap workers behind our back, losing their exit status.
    hwspec_core::sys::restore_default_sigchld();
    // Whatever a worker's descendants do to escape (setsid, a double fork) after the worker
    // itself crashed, they are re-parented to this process rather than init, and killed below.
    let _ = hwspec_core::supervise::become_child_subreaper();
    let cli = Cli::parse();
    let result = match cli.command {
        Commands::Probe(args) => probe(&args).map(|()| ExitCode::SUCCESS),
        Commands::Check(args) => check::check(&args),
        Commands::AptHook(args) => Ok(check::apt_hook(&args)),
        Commands::CondaDetect(args) => conda_detect(&args).map(|()| ExitCode::SUCCESS),
        Commands::Completions { shell } => {
            let mut out = Vec::new();
            clap_complete::generate(shell, &mut Cli::command(), "hwspec", &mut out);
            write_stdout(&out)
                .map(|()| ExitCode::SUCCESS)
                .map_err(Failure::Io)
        }
    };
    // Every worker has ended or been given up on; nothing it started may outlive hwspec.
    hwspec_core::supervise::kill_descendants(std::time::Duration::from_secs(1));
    match result {
        Ok(code) => code,
        Err(Failure::Io(err)) if err.kind() == io::ErrorKind::BrokenPipe => ExitCode::SUCCESS,
        Err(Failure::Io(err)) => {
            diagnose(&err);
            ExitCode::from(1)
        }
        Err(Failure::Invalid(message)) => {
            diagnose(&message);
            ExitCode::from(2)
        }
    }
}

/// Prints `hwspec: MESSAGE` on standard error. Messages quote package fields, file names and
/// driver strings, so control characters in them are shown as escapes, never sent to the
/// terminal. A standard error that cannot be written to (closed, a broken pipe) is not a
/// reason to fail, let alone to panic as `eprintln!` does.
pub fn diagnose(message: &impl fmt::Display) {
    let text = format!("hwspec: {message}\n");
    let _ = io::stderr()
        .lock()
        .write_all(hwspec_core::text::printable(&text).as_bytes());
}

/// The report `opts` asks for: a saved one, or this machine's (cached when still true and
/// allowed, probed otherwise), with the caller's `HWSPEC_OVERRIDE_*` variables applied and
/// recorded in it; also the overrides, for explanations.
fn report(opts: &ProbeOpts) -> Result<(Report, Vec<Override>), Failure> {
    let answer = match &opts.report {
        Some(path) => Answer::with_overrides(saved_report(path)?, std::env::vars_os()),
        None => hwspec_core::report(&probe_options(opts, true)?),
    }
    .map_err(|e| Failure::Invalid(e.to_string()))?;
    Ok((answer.report, answer.overrides))
}

/// The most bytes read of a saved report; a machine with many GPUs writes tens of KiB.
const MAX_SAVED_REPORT_BYTES: u64 = 16 << 20;

/// A report saved by `hwspec probe --json`, this version's or one of schema 1 (read as the
/// current schema), with its capabilities reduced again from what its backends proved, so that
/// a file judges only by its evidence.
fn saved_report(path: &std::path::Path) -> Result<Report, Failure> {
    let invalid = |why: String| Failure::Invalid(format!("{}: {why}", path.display()));
    let text = hwspec_core::sys::read_regular_text(path, MAX_SAVED_REPORT_BYTES)
        .map_err(|e| invalid(e.to_string()))?;
    let mut report = Report::from_json(&text).map_err(|e| invalid(e.to_string()))?;
    report.capabilities = hwspec_core::caps::reduce(report.level, &report.backends);
    Ok(report)
}

/// The core's options for `opts`, from its one set of defaults; `overrides` says whether the
/// report is to take the caller's `HWSPEC_OVERRIDE_*` variables.
fn probe_options(opts: &ProbeOpts, overrides: bool) -> Result<ProbeOptions, Failure> {
    let program = std::env::current_exe()
        .map_err(|e| io::Error::new(e.kind(), format!("cannot find own executable: {e}")))?;
    let mut options = ProbeOptions::new(WorkerCommand::hwspec(program));
    if !opts.backend.is_empty() {
        options.backends = BackendName::ALL
            .iter()
            .copied()
            .filter(|b| opts.backend.contains(b))
            .collect();
    }
    options.level = opts.level;
    options.deadlines = hwspec_core::Deadlines::with_total(opts.timeout);
    for &(stage, limit) in &opts.stage_timeout {
        options.deadlines.set_stage(stage, limit);
    }
    options.trust_env = opts.trust_env;
    options.memory_limit = (opts.memory_limit > 0).then_some(opts.memory_limit << 20);
    options.cache = Some(CachePolicy {
        read: !opts.fresh,
        max_age: opts.max_age,
    });
    options.overrides = overrides;
    Ok(options)
}

fn probe(args: &ProbeArgs) -> Result<(), Failure> {
    let format = if args.json { Format::Json } else { args.format };
    if args.gfd_labels && format != Format::Nfd {
        return Err(Failure::Invalid(
            "--gfd-labels adds labels to --format nfd only".into(),
        ));
    }
    let (report, _) = report(&args.probe)?;
    let node = hwspec_core::sys::short_hostname;
    // Device names, reasons and paths come from drivers and the file system: the text formats
    // show their control characters as escapes (JSON escapes them itself).
    let text = match format {
        Format::Table => printable_text(render::table(&without_cargos_variables(report))),
        Format::Json => json(&report)?,
        Format::Nfd => {
            let text = printable_text(export::nfd::features(
                &report,
                SystemTime::now(),
                args.valid_for,
                args.gfd_labels,
            ));
            if text.len() > export::nfd::MAX_FILE_SIZE {
                return Err(Failure::Io(io::Error::other(format!(
                    "the features file would be {} bytes, more than the {} NFD reads",
                    text.len(),
                    export::nfd::MAX_FILE_SIZE
                ))));
            }
            text
        }
        Format::Slurm => printable_text(export::slurm::include(&report, &node())),
        Format::SlurmGres => printable_text(export::slurm::gres_conf(&report, &node())),
        Format::Debci => printable_text(export::debci::render(&report).map_err(io::Error::other)?),
    };
    match &args.output {
        Some(path) => output::write_regular(path, text.as_bytes()).map_err(Failure::Io),
        None => write_stdout(text.as_bytes()).map_err(Failure::Io),
    }
}

/// `hwspec conda-detect`: the detector report for the registered names, from the CUDA and HIP
/// runtimes' validated devices. conda's own `CONDA_OVERRIDE_*` variables are the overrides
/// there (the client applies them and may skip the detector), so hwspec's are not applied.
fn conda_detect(args: &CondaDetectArgs) -> Result<(), Failure> {
    let names = export::conda::registered(&args.virtual_packages).map_err(Failure::Invalid)?;
    let opts = ProbeOpts {
        backend: vec![BackendName::Cuda, BackendName::Hip],
        level: Level::Standard,
        timeout: args.timeout,
        stage_timeout: Vec::new(),
        trust_env: args.trust_env,
        memory_limit: hwspec_core::options::DEFAULT_MEMORY_LIMIT >> 20,
        fresh: args.fresh,
        max_age: args.max_age,
        report: args.report.clone(),
    };
    // conda's own CONDA_OVERRIDE_* variables stand in for hardware here, not hwspec's.
    let report = match &opts.report {
        Some(path) => saved_report(path)?,
        None => {
            hwspec_core::report(&probe_options(&opts, false)?)
                .map_err(|e| Failure::Invalid(e.to_string()))?
                .report
        }
    };
    if std::env::vars_os().any(|(name, _)| {
        name.to_str()
            .is_some_and(|n| n.starts_with(hwspec_core::spec::OVERRIDE_PREFIX))
    }) {
        diagnose(
            &"note: HWSPEC_OVERRIDE_* variables do not apply to conda-detect; conda's CONDA_OVERRIDE_* do",
        );
    }
    let mut text = serde_json::to_string(&export::conda::detector_report(&report, &names))
        .map_err(io::Error::other)?;
    text.push('\n');
    write_stdout(text.as_bytes()).map_err(Failure::Io)
}

/// Text for a terminal or a file made for people and line-based tools, with the control
/// characters that came from untrusted input shown as escapes.
fn printable_text(text: String) -> String {
    match hwspec_core::text::printable(&text) {
        std::borrow::Cow::Borrowed(_) => text,
        std::borrow::Cow::Owned(escaped) => escaped,
    }
}

/// `report` without the variables `cargo run` set among those withheld from the workers, so that
/// the table does not greet someone trying hwspec from a checkout with a note about them.
fn without_cargos_variables(mut report: Report) -> Report {
    let cargo = std::env::var_os("CARGO");
    let Ok(exe) = std::env::current_exe() else {
        return report;
    };
    report.host.dropped_environment.retain(|name| {
        std::env::var_os(name)
            .is_none_or(|value| !cargo_env::set_by_cargo(name, &value, cargo.as_deref(), &exe))
    });
    report
}

/// `value` as pretty JSON with a final newline, with no character a terminal would act on.
fn json(value: &impl serde::Serialize) -> io::Result<String> {
    let mut json = serde_json::to_string_pretty(value).map_err(io::Error::other)?;
    json.push('\n');
    Ok(hwspec_core::text::printable_json(&json).into_owned())
}

fn write_stdout(bytes: &[u8]) -> io::Result<()> {
    let mut out = io::stdout().lock();
    out.write_all(bytes)?;
    out.flush()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A report captured on a PoCL + lavapipe machine, with a driver that names its device
    /// with terminal escapes (a retitling OSC, a screen clear, an 8-bit CSI, a bidi override).
    fn hostile_report() -> Report {
        let path = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../tests/fixtures/reports/debian12-x86_64-pocl-lavapipe-full.json"
        );
        let mut report = Report::from_json(&std::fs::read_to_string(path).unwrap()).unwrap();
        let device = report
            .backends
            .iter_mut()
            .flat_map(|b| b.devices.iter_mut())
            .next()
            .unwrap();
        device.name = "gpu\x1b]0;owned\x07\x1b[2J\u{9b}1m\u{202e}".to_owned();
        report
    }

    #[test]
    fn driver_strings_reach_no_output_format_raw() {
        let report = hostile_report();
        let raw = |text: &str| {
            text.chars()
                .any(|c| (c.is_control() && c != '\n' && c != '\t') || c == '\u{202e}')
        };
        let table = printable_text(render::table(&report));
        assert!(!raw(&table), "{table}");
        assert!(
            table.contains("gpu\\x1b]0;owned\\x07\\x1b[2J\\u{9b}1m\\u{202e}"),
            "{table}"
        );
        let json = json(&report).unwrap();
        assert!(!raw(&json), "{json}");
        let back: Report = serde_json::from_str(&json).unwrap();
        assert_eq!(back.backends, report.backends);
    }
}
