//! `hwspec`: probe which accelerators this machine can really use.
//!
//! Results go to stdout, diagnostics to stderr. Exit status: 0 when the command ran (for
//! `check`: satisfied), 1 when hwspec itself failed (for `check`: not satisfied, or the
//! `--skip-code`), 2 for invalid input or usage (clap's own code for usage errors).

/// Writes one diagnostic line to standard error. Unlike `eprintln!`, which panics when the
/// write fails, a stderr whose reader went away (a hook's pipe, `2>&-` on a pipe) loses the
/// diagnostic but never turns it into a panic and exit status 101.
macro_rules! diag {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        let _ = writeln!(std::io::stderr(), $($arg)*);
    }};
}

mod check;
mod cli;
mod render;

use std::ffi::OsString;
use std::fmt;
use std::io::{self, Write};
use std::process::ExitCode;
use std::time::SystemTime;

use clap::{CommandFactory, Parser};
use hwspec_core::cache::CachePolicy;
use hwspec_core::spec::Override;
use hwspec_core::{BackendName, Level, ProbeOptions, Report, WorkerCommand};

use cli::{Cli, Commands, Format, ProbeArgs, ProbeOpts};

/// The hidden first argument that turns this executable into a backend worker
/// (`hwspec __worker BACKEND LEVEL`); only hwspec itself starts it.
const WORKER_ARG: &str = "__worker";

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
    let args: Vec<OsString> = std::env::args_os().collect();
    if args.get(1).is_some_and(|a| a == WORKER_ARG) {
        run_worker(&args[2..]);
    }
    // A caller that ignores SIGCHLD (some daemons, `trap '' CHLD`) passes that on to us, and
    // the kernel would then reap workers behind our back, losing their exit status.
    hwspec_core::sys::restore_default_sigchld();
    // Whatever a worker's descendants do to escape (setsid, a double fork) after the worker
    // itself crashed, they are re-parented to this process rather than init, and killed below.
    let _ = hwspec_core::process::become_child_subreaper();
    let cli = Cli::parse();
    let result = match cli.command {
        Commands::Probe(args) => probe(&args).map(|()| ExitCode::SUCCESS),
        Commands::Check(args) => check::check(&args),
        Commands::AptHook(args) => check::apt_hook(&args),
        Commands::Completions { shell } => {
            let mut out = Vec::new();
            clap_complete::generate(shell, &mut Cli::command(), "hwspec", &mut out);
            write_stdout(&out)
                .map(|()| ExitCode::SUCCESS)
                .map_err(Failure::Io)
        }
    };
    // Every worker has ended or been given up on; nothing it started may outlive hwspec.
    hwspec_core::process::kill_descendants(std::time::Duration::from_secs(1));
    match result {
        Ok(code) => code,
        Err(Failure::Io(err)) if err.kind() == io::ErrorKind::BrokenPipe => ExitCode::SUCCESS,
        Err(Failure::Io(err)) => {
            diag!("hwspec: {err}");
            ExitCode::from(1)
        }
        Err(Failure::Invalid(message)) => {
            diag!("hwspec: {message}");
            ExitCode::from(2)
        }
    }
}

fn run_worker(args: &[OsString]) -> ! {
    let backend = args
        .first()
        .and_then(|a| a.to_str())
        .and_then(BackendName::parse);
    let level = args.get(1).and_then(|a| a.to_str()).and_then(Level::parse);
    match (backend, level) {
        (Some(backend), Some(level)) => hwspec_core::worker::worker_main(backend, level),
        _ => {
            diag!("hwspec: {WORKER_ARG} is internal; it takes a backend and a level");
            std::process::exit(2)
        }
    }
}

/// The report `opts` asks for: cached when still true and allowed, probed otherwise, with the
/// caller's `HWSPEC_OVERRIDE_*` variables applied and recorded in it; also the overrides, for
/// explanations.
fn report(opts: &ProbeOpts) -> Result<(Report, Vec<Override>), Failure> {
    let program = std::env::current_exe()
        .map_err(|e| io::Error::new(e.kind(), format!("cannot find own executable: {e}")))?;
    let mut options = ProbeOptions::new(WorkerCommand {
        program,
        args: vec![WORKER_ARG.into()],
    });
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
    let policy = CachePolicy {
        read: !opts.fresh,
        max_age: opts.max_age,
    };
    let mut report = hwspec_core::cache::probe_cached(&options, policy);
    let overrides = hwspec_core::spec::apply_overrides(&mut report, std::env::vars())
        .map_err(|e| Failure::Invalid(e.to_string()))?;
    report.overrides = overrides
        .iter()
        .map(|o| (o.variable.clone(), o.value.clone()))
        .collect();
    Ok((report, overrides))
}

fn probe(args: &ProbeArgs) -> Result<(), Failure> {
    let (report, _) = report(&args.probe)?;
    let format = if args.json { Format::Json } else { args.format };
    let text = match format {
        Format::Table => render::table(&report),
        Format::Json => json(&report)?,
        Format::Nfd => render::nfd(&report, SystemTime::now(), args.probe.max_age),
        Format::Slurm => render::slurm(&report, &hwspec_core::sys::short_hostname()),
    };
    match &args.output {
        Some(path) => hwspec_core::cache::write_atomically(path, text.as_bytes(), 0o644)
            .map_err(|e| io::Error::new(e.kind(), format!("cannot write {}: {e}", path.display())))
            .map_err(Failure::Io),
        None => write_stdout(text.as_bytes()).map_err(Failure::Io),
    }
}

/// `value` as pretty JSON with a final newline.
fn json(value: &impl serde::Serialize) -> io::Result<String> {
    let mut json = serde_json::to_string_pretty(value).map_err(io::Error::other)?;
    json.push('\n');
    Ok(json)
}

fn write_stdout(bytes: &[u8]) -> io::Result<()> {
    let mut out = io::stdout().lock();
    out.write_all(bytes)?;
    out.flush()
}
