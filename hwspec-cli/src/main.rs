//! `hwspec`: probe which accelerators this machine can really use.
//!
//! Results go to stdout, diagnostics to stderr. Exit status: 0 when the command ran, 1 when
//! hwspec itself failed, 2 for usage errors (clap's own code for those).

mod cli;
mod render;

use std::ffi::OsString;
use std::io::{self, Write};
use std::process::ExitCode;

use clap::{CommandFactory, Parser};
use std::time::SystemTime;

use hwspec_core::cache::CachePolicy;
use hwspec_core::{BackendName, Level, ProbeOptions, Report, WorkerCommand};

use cli::{Cli, Commands, Format, ProbeArgs, ProbeOpts};

/// The hidden first argument that turns this executable into a backend worker
/// (`hwspec __worker BACKEND LEVEL`); only hwspec itself starts it.
const WORKER_ARG: &str = "__worker";

fn main() -> ExitCode {
    let args: Vec<OsString> = std::env::args_os().collect();
    if args.get(1).is_some_and(|a| a == WORKER_ARG) {
        run_worker(&args[2..]);
    }
    // A caller that ignores SIGCHLD (some daemons, `trap '' CHLD`) passes that on to us, and
    // the kernel would then reap workers behind our back, losing their exit status.
    hwspec_core::sys::restore_default_sigchld();
    let cli = Cli::parse();
    let result = match cli.command {
        Commands::Probe(args) => probe(&args),
        Commands::Completions { shell } => {
            let mut out = Vec::new();
            clap_complete::generate(shell, &mut Cli::command(), "hwspec", &mut out);
            write_stdout(&out)
        }
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) if err.kind() == io::ErrorKind::BrokenPipe => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("hwspec: {err}");
            ExitCode::from(1)
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
            eprintln!("hwspec: {WORKER_ARG} is internal; it takes a backend and a level");
            std::process::exit(2)
        }
    }
}

/// The report `opts` asks for: cached when still true and allowed, probed otherwise.
fn report(opts: &ProbeOpts) -> io::Result<Report> {
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
    let policy = CachePolicy {
        read: !opts.fresh,
        max_age: opts.max_age,
    };
    Ok(hwspec_core::cache::probe_cached(&options, policy))
}

fn probe(args: &ProbeArgs) -> io::Result<()> {
    let report = report(&args.probe)?;
    let format = if args.json { Format::Json } else { args.format };
    let text = match format {
        Format::Table => render::table(&report),
        Format::Json => {
            let mut json = serde_json::to_string_pretty(&report).map_err(io::Error::other)?;
            json.push('\n');
            json
        }
        Format::Nfd => render::nfd(&report, SystemTime::now(), args.probe.max_age),
    };
    match &args.output {
        Some(path) => hwspec_core::cache::write_atomically(path, text.as_bytes(), 0o644)
            .map_err(|e| io::Error::new(e.kind(), format!("cannot write {}: {e}", path.display()))),
        None => write_stdout(text.as_bytes()),
    }
}

fn write_stdout(bytes: &[u8]) -> io::Result<()> {
    let mut out = io::stdout().lock();
    out.write_all(bytes)?;
    out.flush()
}
