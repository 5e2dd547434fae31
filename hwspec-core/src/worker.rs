//! The worker side of a probe: runs one backend and reports to the parent.
//!
//! The protocol is one JSON object per line on the worker's original standard output:
//! `{"stage":"init"}` as each stage starts, `{"partial":{...}}` once devices are enumerated,
//! then exactly one `{"report":{...}}` (or `{"panic":"..."}`). The parent treats anything
//! else as garbage and a missing final line as partial output (see [`crate::isolate`]).

use std::io::{self, Write};
use std::panic::{self, AssertUnwindSafe};

use serde::{Deserialize, Serialize};

use crate::backends;
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
}

struct LineSink<W: Write> {
    out: W,
}

impl<W: Write> LineSink<W> {
    fn send(&mut self, message: &WorkerMessage) {
        // A parent that stopped listening has already given up on this worker: there is no
        // one left to tell, so write errors end nothing early and are dropped.
        if let Ok(mut line) = serde_json::to_vec(message) {
            line.push(b'\n');
            let _ = self.out.write_all(&line).and_then(|()| self.out.flush());
        }
    }
}

impl<W: Write> Progress for LineSink<W> {
    fn stage(&mut self, stage: Stage) {
        self.send(&WorkerMessage::Stage(stage));
    }

    fn partial(&mut self, report: &BackendReport) {
        self.send(&WorkerMessage::Partial(report.clone()));
    }
}

/// Runs `name` at `level`, writing the protocol to `out`. Returns the process exit code.
fn run(name: BackendName, level: Level, out: impl Write) -> i32 {
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

/// The worker process's whole life: divert stdout, probe, report, leave with `_exit`.
///
/// Called by the `hwspec` executable's hidden worker mode. Never returns.
pub fn worker_main(name: BackendName, level: Level) -> ! {
    // The default hook would print the panic to stderr as well; the parent gets it as a
    // protocol message, which is enough.
    panic::set_hook(Box::new(|_| {}));
    let code = match sys::divert_stdout_to_stderr() {
        Ok(channel) => run(name, level, io::BufWriter::new(channel)),
        Err(_) => run(name, level, io::stdout()),
    };
    sys::exit_immediately(code)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_cpu_worker_speaks_the_protocol() {
        let mut out = Vec::new();
        assert_eq!(run(BackendName::Cpu, Level::Quick, &mut out), 0);
        let text = String::from_utf8(out).unwrap();
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
