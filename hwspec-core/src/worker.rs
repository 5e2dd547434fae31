//! The worker side of a probe: runs one backend and reports to the parent in the line
//! protocol of [`crate::protocol`].

use std::ffi::OsString;
use std::io;
use std::panic::{self, AssertUnwindSafe};
use std::sync::{Arc, Mutex};

use crate::backends;
use crate::guard::{self, Channel};
use crate::model::{BackendName, BackendReport, Level};
use crate::protocol::{self, Progress, Stage, WorkerMessage};
use crate::sys;

struct LineSink {
    out: Channel,
    #[cfg(feature = "fault-injection")]
    fault: Option<fault::Fault>,
}

impl LineSink {
    fn send(&mut self, message: &WorkerMessage) {
        guard::send(&self.out, message);
    }
}

impl Progress for LineSink {
    fn stage(&mut self, stage: Stage) {
        self.send(&WorkerMessage::Stage(stage));
        #[cfg(feature = "fault-injection")]
        if let Some(fault) = &self.fault {
            fault.at(stage);
        }
    }

    fn partial(&mut self, report: &BackendReport) {
        self.send(&WorkerMessage::Partial(report.clone()));
    }
}

/// Runs `name` at `level`, writing the protocol to `out`. Returns the process exit code.
fn run(name: BackendName, level: Level, out: Channel) -> i32 {
    let mut sink = LineSink {
        out,
        #[cfg(feature = "fault-injection")]
        fault: fault::Fault::asked(name),
    };
    let backend = backends::get(name);
    let outcome = panic::catch_unwind(AssertUnwindSafe(|| backend.probe(level, &mut sink)));
    match outcome {
        Ok(report) => {
            sink.send(&WorkerMessage::Report(report));
            0
        }
        Err(payload) => {
            let text = payload
                .downcast_ref::<&str>()
                .map(|s| (*s).to_owned())
                .or_else(|| payload.downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "non-text panic payload".to_owned());
            sink.send(&WorkerMessage::Panic(text));
            101
        }
    }
}

/// Becomes a worker when this process was started as one (`PROGRAM` [`protocol::WORKER_ARG`]
/// `BACKEND LEVEL`), and then never returns; otherwise returns `Ok(())` at once.
///
/// Every program that probes needs a worker executable: the `hwspec` binary calls this first
/// thing in `main`, and a Rust program can do the same and name its own executable in
/// [`WorkerCommand::hwspec`](crate::WorkerCommand::hwspec). Call it before starting any
/// thread. An error is a worker command line without a known backend and level; the message
/// says so (the `hwspec` binary prints it and exits with status 2).
pub fn run_if_asked() -> Result<(), String> {
    let args: Vec<OsString> = std::env::args_os().skip(1).collect();
    match protocol::worker_request(&args) {
        None => Ok(()),
        Some(Ok((name, level))) => worker_main(name, level),
        Some(Err(message)) => Err(message),
    }
}

/// The worker process's whole life: cut loose from the caller and guard it (see
/// [`crate::guard`]), divert stdout, probe, report, end what the driver started, and leave
/// with `_exit`.
fn worker_main(name: BackendName, level: Level) -> ! {
    // The default hook would print the panic to stderr as well; the parent gets it as a
    // protocol message, which is enough.
    panic::set_hook(Box::new(|_| {}));
    let detached = guard::detach();
    let channel: Channel = match sys::divert_stdout_to_stderr() {
        Ok(file) => Arc::new(Mutex::new(file)),
        Err(_) => Arc::new(Mutex::new(io::stdout())),
    };
    guard::watch(detached, Arc::clone(&channel));
    let code = run(name, level, channel);
    guard::finish();
    sys::exit_immediately(code)
}

/// Faults on demand, for the conformance suite (`tests/conformance.rs`): with
/// `HWSPEC_TEST_FAULT=BACKEND:STAGE:crash|hang`, the worker of BACKEND aborts, or blocks for
/// good, as it enters STAGE, whichever backend it is, so that every backend is held to the
/// same promises (a crash keeps the partial report, a hang ends at the stage's deadline)
/// without a faulty fake of each runtime. Compiled only with the `fault-injection` feature,
/// which only the test suites enable: a release build has no such variable.
#[cfg(feature = "fault-injection")]
mod fault {
    use crate::model::BackendName;
    use crate::protocol::Stage;

    pub(super) struct Fault {
        stage: Stage,
        hang: bool,
    }

    impl Fault {
        /// The fault asked of `backend`'s worker, if any.
        pub(super) fn asked(backend: BackendName) -> Option<Fault> {
            let text = crate::protocol::fault_asked_of(backend)?;
            let mut parts = text.split(':');
            let (stage, action) = (parts.next()?, parts.next()?);
            let stage = [Stage::Load, Stage::Init, Stage::Enumerate, Stage::Kernel]
                .into_iter()
                .find(|s| s.as_str() == stage)?;
            let hang = match action {
                "crash" => false,
                "hang" => true,
                _ => return None,
            };
            Some(Fault { stage, hang })
        }

        /// Misbehaves when `entered` is the fault's stage.
        pub(super) fn at(&self, entered: Stage) {
            if entered != self.stage {
                return;
            }
            if self.hang {
                loop {
                    std::thread::park();
                }
            }
            std::process::abort();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_cpu_worker_speaks_the_protocol() {
        let out = Arc::new(Mutex::new(Vec::<u8>::new()));
        assert_eq!(run(BackendName::Cpu, Level::Quick, out.clone()), 0);
        let text = String::from_utf8(out.lock().unwrap().clone()).unwrap();
        let messages: Vec<WorkerMessage> = text
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        assert_eq!(messages[0], WorkerMessage::Stage(Stage::Enumerate));
        match messages.last().unwrap() {
            WorkerMessage::Report(r) => assert_eq!(r.name, BackendName::Cpu),
            other => panic!("last message {other:?}"),
        }
    }
}
