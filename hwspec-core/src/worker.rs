//! The worker side of a probe: runs one backend and reports to the parent.
//!
//! The protocol is one JSON object per line on the worker's original standard output:
//! `{"stage":"init"}` as each stage starts, `{"partial":{...}}` once devices are enumerated,
//! then exactly one `{"report":{...}}` (or `{"panic":"..."}`). The parent treats anything
//! else as garbage and a missing final line as partial output (see [`crate::isolate`]).

use std::io;
use std::panic::{self, AssertUnwindSafe};
use std::sync::{Arc, Mutex};

use serde::{Deserialize, Serialize};

use crate::backends;
use crate::guard::{self, Channel};
use crate::model::{BackendName, BackendReport, Level};
use crate::protocol::{Progress, Stage};
use crate::sys;

/// One line of the worker protocol.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum WorkerMessage {
    /// The worker entered a stage.
    Stage(Stage),
    /// What is known so far.
    Partial(BackendReport),
    /// The final result.
    Report(BackendReport),
    /// The backend panicked; the text is the panic message.
    Panic(String),
    /// The worker's anonymous resident memory went over its limit; it ends right after.
    MemoryLimit {
        /// What it had resident when seen, in bytes.
        used_bytes: u64,
        /// The limit the parent set, in bytes.
        limit_bytes: u64,
    },
}

struct LineSink {
    out: Channel,
}

impl LineSink {
    fn send(&mut self, message: &WorkerMessage) {
        guard::send(&self.out, message);
    }
}

impl Progress for LineSink {
    fn stage(&mut self, stage: Stage) {
        self.send(&WorkerMessage::Stage(stage));
    }

    fn partial(&mut self, report: &BackendReport) {
        self.send(&WorkerMessage::Partial(report.clone()));
    }
}

/// Runs `name` at `level`, writing the protocol to `out`. Returns the process exit code.
fn run(name: BackendName, level: Level, out: Channel) -> i32 {
    let mut sink = LineSink { out };
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

/// The worker process's whole life: cut loose from the caller and guard it (see
/// [`crate::guard`]), divert stdout, probe, report, end what the driver started, and leave
/// with `_exit`.
///
/// Called by the `hwspec` executable's hidden worker mode. Never returns.
pub fn worker_main(name: BackendName, level: Level) -> ! {
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
