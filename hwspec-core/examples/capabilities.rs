//! Probes this machine as `hwspec probe` does and prints its capabilities, one a line
//! (`opencl 3.0`, `cpu`): how a Rust program embeds hwspec.
//!
//! `cargo run -p hwspec-core --example capabilities -- [quick|standard|full]`

use std::process::ExitCode;

use hwspec_core::{Level, ProbeOptions, WorkerCommand};

fn main() -> ExitCode {
    // Vendor runtimes are loaded only in worker processes, and this executable is the worker:
    // started as one, it probes its backend here and never returns.
    if let Err(message) = hwspec_core::worker::run_if_asked() {
        eprintln!("capabilities: {message}");
        return ExitCode::from(2);
    }
    let program = match std::env::current_exe() {
        Ok(program) => program,
        Err(err) => {
            eprintln!("capabilities: cannot find own executable: {err}");
            return ExitCode::from(1);
        }
    };
    let mut options = ProbeOptions::new(WorkerCommand::hwspec(program));
    if let Some(name) = std::env::args().nth(1) {
        match Level::parse(&name) {
            Some(level) => options.level = level,
            None => {
                eprintln!("capabilities: unknown level {name:?}; levels are quick, standard, full");
                return ExitCode::from(2);
            }
        }
    }
    // The report cache answers while it holds, and HWSPEC_OVERRIDE_* variables apply, as for
    // `hwspec check`; a bad override variable is the only error.
    let answer = match hwspec_core::report(&options) {
        Ok(answer) => answer,
        Err(err) => {
            eprintln!("capabilities: {err}");
            return ExitCode::from(2);
        }
    };
    for capability in &answer.report.capabilities {
        match &capability.version {
            Some(version) => println!("{} {version}", capability.name),
            None => println!("{}", capability.name),
        }
    }
    // Why a backend proved less than it might goes to stderr, so that stdout stays the answer.
    for backend in &answer.report.backends {
        if let Some(reason) = &backend.reason {
            eprintln!(
                "capabilities: {}: {}: {}",
                backend.name, backend.status, reason.message
            );
        }
    }
    ExitCode::SUCCESS
}
