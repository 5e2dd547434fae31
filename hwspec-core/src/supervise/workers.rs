//! Starting workers and supervising them to completion or deadline: their protocol lines,
//! stderr tails, exits, timers and signals, turned into one backend report each.

use std::ffi::OsString;
use std::io::{self, BufRead, BufReader, Read};
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::process::{Child, ChildStderr, ChildStdin, ChildStdout, Command, ExitStatus, Stdio};
use std::sync::mpsc::{self, Receiver, Sender};
use std::thread;
use std::time::{Duration, Instant};

use crate::model::{BackendName, BackendReport, Level, Reason, ReasonCode, Status};
use crate::options::{Deadlines, WorkerCommand};
use crate::pipes::{PipeWatch, Watched};
use crate::protocol::{Stage, WorkerMessage};
use crate::sys;

/// Time between SIGTERM and SIGKILL for a worker past its deadline.
const TERM_GRACE: Duration = Duration::from_millis(250);
/// Time allowed, after SIGKILL or after a final report, for the worker to be reaped.
const REAP_GRACE: Duration = Duration::from_secs(1);
/// Time allowed, after a worker exits, for its last output to be read when its pipes cannot
/// be watched (no descriptor was left to copy them). Otherwise the wait lasts exactly as long
/// as output is on its way (see [`PipeWatch`]), however slow the reader threads are (a loaded
/// machine, a host under valgrind), and never past the run's deadline.
const DRAIN_GRACE: Duration = Duration::from_secs(1);
/// How often a run whose worker has exited looks again at output not yet delivered. The
/// reader threads' own events wake the supervisor sooner; this is the fallback.
const DRAIN_POLL: Duration = Duration::from_millis(20);
/// Longest protocol line accepted; a report with hundreds of devices is far smaller.
const MAX_LINE_BYTES: u64 = 16 << 20;
/// How much of a worker's stderr is kept for crash messages.
const STDERR_TAIL_BYTES: usize = 4096;

/// Most workers of one probe running at once. The first round has one per backend; a re-probe
/// of each OpenCL ICD or Vulkan manifest alone can have hundreds (a machine with 300 manifests
/// once started 191 workers together, 4.4 GB, and overran its deadline by seconds). The others
/// wait for a free slot, inside the same deadlines.
const MAX_WORKERS: usize = 16;

enum Event {
    Line(usize, Vec<u8>),
    Overlong(usize),
    StdoutDone(usize),
    StderrDone(usize, String),
    Exited(usize, Option<ExitStatus>),
}

/// Everything needed to start workers, shared by every run of one probe.
pub(super) struct Spawn<'a> {
    pub(super) worker: &'a WorkerCommand,
    pub(super) level: Level,
    pub(super) deadlines: Deadlines,
    /// No run of this probe may go past this, re-probes included.
    pub(super) hard_deadline: Instant,
    pub(super) env: &'a [(OsString, OsString)],
    /// The worker guard's settings (parent pid, memory limit): not shown in the report.
    pub(super) guard_env: &'a [(OsString, OsString)],
}

/// Why a run was stopped before its final report.
#[derive(Debug, Clone, Copy)]
enum Overrun {
    /// The stage it was in exceeded its own limit.
    Stage(Option<Stage>, Duration),
    /// The run exceeded the probe's total deadline.
    Total(Option<Stage>, Duration),
}

/// One worker being supervised.
pub(super) struct Run {
    pub(super) name: BackendName,
    /// Variables that override the shared environment for this worker.
    overrides: Vec<(OsString, Option<OsString>)>,
    launched: bool,
    /// The probe's deadline came before a slot was free.
    not_started: bool,
    deadlines: Deadlines,
    hard_deadline: Instant,
    pub(super) started: Instant,
    stage_entered: Instant,
    pid: Option<u32>,
    /// The write end of the worker's stdin: the worker's guard ends it, and what it started,
    /// when this closes (see [`crate::guard`]). Held until the run is over.
    lifeline: Option<ChildStdin>,
    spawn_error: Option<String>,
    stage: Option<Stage>,
    partial: Option<BackendReport>,
    report: Option<(BackendReport, Instant)>,
    panic: Option<String>,
    garbage: Option<String>,
    /// Anonymous resident bytes the worker's guard saw, and the limit it went over.
    memory: Option<(u64, u64)>,
    exit: Option<(Option<ExitStatus>, Instant)>,
    stdout_done: bool,
    stderr_tail: Option<String>,
    /// The worker's stdout and stderr as their reader threads serve them; dropped when the run
    /// is over.
    watches: Option<(PipeWatch, PipeWatch)>,
    /// When no output was seen on its way after the worker exited. The run ends at a later
    /// step, once the events sent before that have been handled.
    quiet_since: Option<Instant>,
    /// The worker had exited, but its output was still arriving at the run's deadline.
    output_cut: bool,
    overrun: Option<Overrun>,
    term_sent: Option<Instant>,
    kill_sent: Option<Instant>,
    finished: Option<Instant>,
    warnings: Vec<String>,
}

/// A worker to start: its backend, and variables that override the shared environment
/// (`None` removes one).
pub(super) type Job = (BackendName, Vec<(OsString, Option<OsString>)>);

/// Starts one worker per job, at most [`MAX_WORKERS`] at a time, and supervises them all to
/// completion or deadline.
pub(super) fn run_all(spawn: &Spawn<'_>, jobs: &[Job]) -> Vec<Run> {
    let (tx, rx) = mpsc::channel();
    let mut runs: Vec<Run> = jobs
        .iter()
        .map(|(name, overrides)| Run::queued(*name, spawn, overrides.clone()))
        .collect();
    supervise(&mut runs, spawn, &tx, &rx);
    runs
}

/// Senders that hand a worker's pipes and handle to the threads that serve it. The threads
/// are started before the worker, so that a process that cannot start threads (a low
/// `RLIMIT_NPROC`) never leaves a worker behind that nobody reads or reaps.
struct Helpers {
    stdout: Sender<Watched<ChildStdout>>,
    stderr: Sender<Watched<ChildStderr>>,
    child: Sender<Child>,
}

/// Stack of each helper thread: they hold a line buffer on the heap and an 8 KiB chunk.
const HELPER_STACK_BYTES: usize = 128 << 10;

fn helper<T: Send + 'static>(
    name: &str,
    serve: impl FnOnce(T) + Send + 'static,
) -> io::Result<Sender<T>> {
    let (give, take) = mpsc::channel::<T>();
    thread::Builder::new()
        .name(name.to_owned())
        .stack_size(HELPER_STACK_BYTES)
        .spawn(move || {
            // Nothing arrives when the worker could not be started: the thread just ends.
            if let Ok(item) = take.recv() {
                serve(item);
            }
        })?;
    Ok(give)
}

fn start_helpers(index: usize, tx: &Sender<Event>) -> io::Result<Helpers> {
    let (out, err, exit) = (tx.clone(), tx.clone(), tx.clone());
    Ok(Helpers {
        stdout: helper("hwspec-protocol", move |stdout| {
            read_protocol(index, stdout, &out)
        })?,
        stderr: helper("hwspec-stderr", move |stderr| {
            read_stderr_tail(index, stderr, &err)
        })?,
        child: helper("hwspec-reaper", move |child| reap(index, child, &exit))?,
    })
}

impl Run {
    /// A run waiting for a free slot.
    fn queued(
        name: BackendName,
        spawn: &Spawn<'_>,
        overrides: Vec<(OsString, Option<OsString>)>,
    ) -> Run {
        let now = Instant::now();
        Run {
            name,
            overrides,
            launched: false,
            not_started: false,
            deadlines: spawn.deadlines,
            hard_deadline: spawn.hard_deadline,
            started: now,
            stage_entered: now,
            pid: None,
            lifeline: None,
            spawn_error: None,
            stage: None,
            partial: None,
            report: None,
            panic: None,
            garbage: None,
            memory: None,
            exit: None,
            stdout_done: false,
            stderr_tail: None,
            watches: None,
            quiet_since: None,
            output_cut: false,
            overrun: None,
            term_sent: None,
            kill_sent: None,
            finished: None,
            warnings: Vec::new(),
        }
    }

    fn is_queued(&self) -> bool {
        !self.launched && self.finished.is_none()
    }

    fn is_active(&self) -> bool {
        self.launched && self.finished.is_none()
    }

    /// Gives up on a run the probe's deadline reached before it could start.
    fn give_up(&mut self, now: Instant) {
        self.not_started = true;
        self.started = now;
        self.finished = Some(now);
    }

    /// Starts the worker; its events arrive on `tx` tagged with `index`.
    fn launch(&mut self, index: usize, spawn: &Spawn<'_>, tx: &Sender<Event>) {
        let started = Instant::now();
        self.launched = true;
        self.started = started;
        self.stage_entered = started;
        let helpers = match start_helpers(index, tx) {
            Ok(helpers) => helpers,
            Err(err) => {
                self.spawn_error = Some(format!(
                    "could not start a thread to watch the worker: {err}"
                ));
                self.finished = Some(started);
                return;
            }
        };
        let overrides = &self.overrides;
        let shared = spawn
            .env
            .iter()
            .filter(|(k, _)| !overrides.iter().any(|(o, _)| o == k));
        let set = overrides
            .iter()
            .filter_map(|(k, v)| v.as_ref().map(|v| (k, v)));
        let mut command = Command::new(&spawn.worker.program);
        command
            .args(&spawn.worker.args)
            .arg(self.name.as_str())
            .arg(spawn.level.as_str())
            .env_clear()
            .envs(shared.map(|(k, v)| (k, v)).chain(set))
            .envs(spawn.guard_env.iter().map(|(k, v)| (k, v)))
            .current_dir("/")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .process_group(0);
        #[cfg(feature = "fault-injection")]
        if let Some(fault) = std::env::var_os(crate::protocol::FAULT_VAR) {
            command.env(crate::protocol::FAULT_VAR, fault);
        }
        let spawned = command.spawn();
        match spawned {
            Ok(mut child) => {
                self.pid = Some(child.id());
                self.lifeline = child.stdin.take();
                let (mut stdout_watch, mut stderr_watch) = (None, None);
                if let Some(stdout) = child.stdout.take() {
                    let (stdout, watch) = Watched::new(stdout);
                    stdout_watch = watch;
                    let _ = helpers.stdout.send(stdout);
                }
                if let Some(stderr) = child.stderr.take() {
                    let (stderr, watch) = Watched::new(stderr);
                    stderr_watch = watch;
                    let _ = helpers.stderr.send(stderr);
                }
                self.watches = stdout_watch.zip(stderr_watch);
                let _ = helpers.child.send(child);
            }
            Err(err) => {
                self.spawn_error = Some(format!(
                    "could not start worker {}: {err}",
                    spawn.worker.program.display()
                ));
                self.finished = Some(started);
            }
        }
    }

    /// Why this run's outcome may not hold next time, if it may not.
    pub(super) fn transient(&self) -> Option<String> {
        let what = if let Some(error) = &self.spawn_error {
            error.clone()
        } else if self.not_started {
            "a worker was not started before the deadline".to_owned()
        } else if self.memory.is_some() {
            "a worker went over its memory limit".to_owned()
        } else if self.overrun.is_some() {
            "a worker timed out".to_owned()
        } else if self.output_cut {
            "a worker's output was still arriving at its deadline".to_owned()
        } else if self.report.is_none()
            && self.kill_sent.is_none()
            && self
                .exit
                .and_then(|(status, _)| status)
                .and_then(|status| status.signal())
                == Some(libc::SIGKILL)
        {
            // Not hwspec's kill: the out-of-memory killer, or a person.
            "a worker was killed by SIGKILL from outside hwspec".to_owned()
        } else {
            return None;
        };
        Some(format!("{}: {what}", self.name))
    }

    /// When the run must stop if it has not reported, and what exceeding it would mean. Time
    /// before the first stage message counts as loading.
    fn deadline(&self) -> (Instant, Overrun) {
        let limit = self.deadlines.stage(self.stage.unwrap_or(Stage::Load));
        let stage_end = self.stage_entered + limit;
        if stage_end < self.hard_deadline {
            (stage_end, Overrun::Stage(self.stage, limit))
        } else {
            let total = self.hard_deadline.saturating_duration_since(self.started);
            (self.hard_deadline, Overrun::Total(self.stage, total))
        }
    }

    /// Whether the whole backend failed in a way one bad driver can cause for all: the worker
    /// ended without a final report (crash, timeout, garbage, half a report), or the runtime
    /// refused to start at all (`driver-error` with no device listed). Re-probing each driver
    /// alone can then still find the healthy ones.
    pub(super) fn failed_as_a_whole(&self) -> bool {
        if self.spawn_error.is_some() {
            return false;
        }
        match &self.report {
            None => true,
            Some((report, _)) => {
                report.devices.is_empty()
                    && report.status == Status::Unusable
                    && report
                        .reason
                        .as_ref()
                        .is_some_and(|r| r.code == ReasonCode::DriverError)
            }
        }
    }

    fn handle(&mut self, event: Event, now: Instant) {
        match event {
            Event::Line(_, line) => self.handle_line(&line, now),
            Event::Overlong(_) => {
                self.garbage
                    .get_or_insert_with(|| format!("a line longer than {MAX_LINE_BYTES} bytes"));
            }
            Event::StdoutDone(_) => self.stdout_done = true,
            Event::StderrDone(_, tail) => self.stderr_tail = Some(tail),
            Event::Exited(_, status) => self.exit = Some((status, now)),
        }
    }

    fn handle_line(&mut self, line: &[u8], now: Instant) {
        match serde_json::from_slice::<WorkerMessage>(line) {
            Ok(WorkerMessage::Stage(stage)) => {
                self.stage = Some(stage);
                self.stage_entered = now;
            }
            Ok(WorkerMessage::Partial(report)) => self.partial = Some(report),
            Ok(WorkerMessage::Report(report)) if self.report.is_none() => {
                self.report = Some((report, now));
            }
            Ok(WorkerMessage::Report(_)) => {
                self.warnings
                    .push("worker sent a second report; the first was kept".into());
            }
            Ok(WorkerMessage::Panic(text)) => self.panic = Some(text),
            Ok(WorkerMessage::MemoryLimit {
                used_bytes,
                limit_bytes,
            }) => self.memory = Some((used_bytes, limit_bytes)),
            Err(_) => {
                self.garbage.get_or_insert_with(|| {
                    let text = String::from_utf8_lossy(line);
                    let mut excerpt: String = text.chars().take(80).collect();
                    if excerpt.len() < text.len() {
                        excerpt.push('…');
                    }
                    format!("{excerpt:?}")
                });
            }
        }
    }

    /// Advances timers; returns the next instant at which this run needs attention.
    fn step(&mut self, now: Instant) -> Option<Instant> {
        let next = self.advance(now);
        if self.finished.is_some() {
            // The worker is gone or given up on: closing the lifeline ends whatever of it
            // is left (a worker that could not be reaped, a grandchild).
            self.lifeline = None;
            self.watches = None;
        }
        next
    }

    fn advance(&mut self, now: Instant) -> Option<Instant> {
        if self.finished.is_some() {
            return None;
        }
        let pid = self.pid?;
        if let Some((_, exited_at)) = self.exit {
            return self.drain(exited_at, now);
        }
        if let Some(killed) = self.kill_sent {
            if now >= killed + REAP_GRACE {
                self.warnings.push(format!(
                    "worker process {pid} could not be reaped after SIGKILL and was abandoned"
                ));
                self.finished = Some(now);
                return None;
            }
            return Some(killed + REAP_GRACE);
        }
        if let Some(termed) = self.term_sent {
            if now >= termed + TERM_GRACE {
                sys::signal_group(pid, libc::SIGKILL);
                self.kill_sent = Some(now);
                return Some(now + REAP_GRACE);
            }
            return Some(termed + TERM_GRACE);
        }
        if let Some((_, reported_at)) = self.report {
            if now >= reported_at + REAP_GRACE {
                self.warnings
                    .push("worker did not exit after its report and was killed".into());
                sys::signal_group(pid, libc::SIGKILL);
                self.kill_sent = Some(now);
                return Some(now + REAP_GRACE);
            }
            return Some(reported_at + REAP_GRACE);
        }
        let (deadline, overrun) = self.deadline();
        if now >= deadline {
            self.overrun = Some(overrun);
            sys::signal_group(pid, libc::SIGTERM);
            self.term_sent = Some(now);
            return Some(now + TERM_GRACE);
        }
        Some(deadline)
    }

    /// After the worker exited: waits for its output while any is on its way, then ends the
    /// run. A report ends it at once. Output a reader thread has not delivered yet is waited
    /// for up to the run's deadline (or [`DRAIN_GRACE`] after the exit, if later), so a slow
    /// reader is never taken for a worker that wrote nothing; a pipe that a descendant holds
    /// open with nothing in it is not waited for.
    fn drain(&mut self, exited_at: Instant, now: Instant) -> Option<Instant> {
        let output_read = self.stdout_done && self.stderr_tail.is_some();
        if output_read || self.report.is_some() {
            self.finished = Some(now);
            return None;
        }
        let pending = match &self.watches {
            Some((stdout, stderr)) => {
                (!self.stdout_done && stdout.pending())
                    || (self.stderr_tail.is_none() && stderr.pending())
            }
            None => now < exited_at + DRAIN_GRACE,
        };
        if pending {
            self.quiet_since = None;
            // A worker that exited just before its deadline still gets the grace.
            let (deadline, _) = self.deadline();
            let deadline = deadline.max(exited_at + DRAIN_GRACE);
            if now < deadline {
                return Some((now + DRAIN_POLL).min(deadline));
            }
            self.output_cut = true;
            self.warnings.push(
                "the worker had exited, but its output was still arriving at its deadline".into(),
            );
            self.finished = Some(now);
            return None;
        }
        match self.quiet_since {
            // Events the readers sent before they went quiet have been handled since.
            Some(quiet) if now > quiet => {
                self.finished = Some(now);
                None
            }
            Some(quiet) => Some(quiet),
            None => {
                self.quiet_since = Some(now);
                Some(now)
            }
        }
    }

    pub(super) fn into_report(self) -> BackendReport {
        let elapsed = self.finished.unwrap_or_else(Instant::now) - self.started;
        let mut report = self.outcome();
        report.elapsed_ms = elapsed.as_secs_f64() * 1e3;
        report.warnings.extend(self.warnings);
        report
    }

    fn outcome(&self) -> BackendReport {
        if let Some(message) = &self.spawn_error {
            return BackendReport::unusable(self.name, ReasonCode::WorkerFailed, message.clone());
        }
        if self.not_started {
            let total = self.deadlines.total.as_secs_f64();
            return BackendReport::unusable(
                self.name,
                ReasonCode::Timeout,
                format!(
                    "not started: the probe's {total:.1} s deadline passed while {MAX_WORKERS} \
                     other workers were running"
                ),
            );
        }
        if let Some((report, _)) = &self.report {
            let mut report = report.clone();
            if let Some(garbage) = &self.garbage {
                report
                    .warnings
                    .push(format!("worker also wrote unexpected output: {garbage}"));
            }
            if let Some((status, _)) = self.exit {
                if self.kill_sent.is_none() && status.is_some_and(|s| !s.success()) {
                    report
                        .warnings
                        .push(format!("worker {} after its report", describe_exit(status)));
                }
            }
            return report;
        }
        let stage = self.stage_phrase();
        let (code, mut message) = if let Some((used, limit)) = self.memory {
            (
                ReasonCode::MemoryLimit,
                format!(
                    "the worker had {} of memory resident, over its {} limit, {stage}; it and \
                     everything it started were killed",
                    describe_bytes(used),
                    describe_bytes(limit)
                ),
            )
        } else if let Some(text) = &self.panic {
            (
                ReasonCode::Crashed,
                format!("worker panicked {stage}: {text}"),
            )
        } else if let Some(overrun) = self.overrun {
            let message = match overrun {
                Overrun::Stage(stage, limit) => format!(
                    "stage {} did not finish within {:.1} s",
                    stage.unwrap_or(Stage::Load),
                    limit.as_secs_f64()
                ),
                Overrun::Total(stage, total) => format!(
                    "no result within {:.1} s in all; the worker was {}",
                    total.as_secs_f64(),
                    stage.map_or("starting".to_owned(), |s| format!("in stage {s}"))
                ),
            };
            (ReasonCode::Timeout, message)
        } else {
            match self.exit.map(|(status, _)| status) {
                Some(Some(status)) if !status.success() => (
                    ReasonCode::Crashed,
                    format!("worker {} {stage}", describe_exit(Some(status))),
                ),
                _ if self.garbage.is_some() => (
                    ReasonCode::BadOutput,
                    format!(
                        "worker output is not the hwspec protocol: {}",
                        self.garbage.as_deref().unwrap_or_default()
                    ),
                ),
                _ if self.stage.is_some() => (
                    ReasonCode::PartialOutput,
                    format!("worker exited {stage} before its final report"),
                ),
                _ => (
                    ReasonCode::BadOutput,
                    "worker exited without any result".to_owned(),
                ),
            }
        };
        if code != ReasonCode::Timeout {
            if let Some(line) = self.last_stderr_line() {
                message.push_str(&format!(" (last stderr line: {line})"));
            }
        }
        let mut report = match &self.partial {
            Some(partial) => partial.clone(),
            None => BackendReport::new(self.name, Status::Unusable, None),
        };
        report.name = self.name;
        report.status = Status::Unusable;
        report.reason = Some(Reason::new(code, message));
        report
    }

    fn stage_phrase(&self) -> String {
        match self.stage {
            Some(stage) => format!("in stage {stage}"),
            None => "before its first stage".to_owned(),
        }
    }

    fn last_stderr_line(&self) -> Option<String> {
        let tail = self.stderr_tail.as_deref()?;
        let line = tail.lines().rev().find(|l| !l.trim().is_empty())?;
        Some(line.trim().chars().take(200).collect())
    }
}

/// `bytes` in MiB or GiB, for reasons.
fn describe_bytes(bytes: u64) -> String {
    const MIB: f64 = (1u64 << 20) as f64;
    let mib = bytes as f64 / MIB;
    if mib >= 1024.0 {
        format!("{:.1} GiB", mib / 1024.0)
    } else {
        format!("{mib:.0} MiB")
    }
}

fn describe_exit(status: Option<ExitStatus>) -> String {
    match status {
        None => "ended with an unknown status".to_owned(),
        Some(s) => match (s.code(), s.signal()) {
            (Some(code), _) => format!("exited with status {code}"),
            (None, Some(signal)) => format!("was killed by {}", sys::signal_name(signal)),
            (None, None) => "ended with an unknown status".to_owned(),
        },
    }
}

/// Runs every worker to completion or deadline, starting queued ones as slots free up. Events
/// already received are handled before any timer fires, so that a report that arrived just
/// before its deadline (a loaded machine, a host under valgrind) is not taken for a timeout.
fn supervise(runs: &mut [Run], spawn: &Spawn<'_>, tx: &Sender<Event>, rx: &Receiver<Event>) {
    let dispatch = |runs: &mut [Run], event: Event| {
        let index = match &event {
            Event::Line(i, _)
            | Event::Overlong(i)
            | Event::StdoutDone(i)
            | Event::StderrDone(i, _)
            | Event::Exited(i, _) => *i,
        };
        if let Some(run) = runs.get_mut(index) {
            run.handle(event, Instant::now());
        }
    };
    loop {
        while let Ok(event) = rx.try_recv() {
            dispatch(runs, event);
        }
        let now = Instant::now();
        for run in runs.iter_mut() {
            run.step(now);
        }
        let mut free = MAX_WORKERS.saturating_sub(runs.iter().filter(|r| r.is_active()).count());
        for (index, run) in runs.iter_mut().enumerate() {
            if !run.is_queued() {
                continue;
            }
            if now >= spawn.hard_deadline {
                run.give_up(now);
            } else if free > 0 {
                run.launch(index, spawn, tx);
                free -= 1;
            }
        }
        let mut next = runs.iter_mut().filter_map(|r| r.step(now)).min();
        if runs.iter().any(Run::is_queued) {
            next = Some(next.map_or(spawn.hard_deadline, |n| n.min(spawn.hard_deadline)));
        }
        let Some(next) = next else { return };
        // `tx` is held here, so the channel never disconnects: only events or time wake this.
        if let Ok(event) = rx.recv_timeout(next.saturating_duration_since(now)) {
            dispatch(runs, event);
        }
    }
}

fn read_protocol(index: usize, stdout: Watched<ChildStdout>, tx: &Sender<Event>) {
    let mut reader = BufReader::new(stdout);
    let mut line = Vec::new();
    loop {
        line.clear();
        match (&mut reader)
            .take(MAX_LINE_BYTES + 1)
            .read_until(b'\n', &mut line)
        {
            Ok(0) | Err(_) => break,
            Ok(_) if line.len() as u64 > MAX_LINE_BYTES => {
                let _ = tx.send(Event::Overlong(index));
                let _ = io::copy(&mut reader, &mut io::sink());
                break;
            }
            Ok(_) => {
                while line.last().is_some_and(|b| *b == b'\n' || *b == b'\r') {
                    line.pop();
                }
                if !line.is_empty() && tx.send(Event::Line(index, line.clone())).is_err() {
                    break;
                }
            }
        }
    }
    let _ = tx.send(Event::StdoutDone(index));
}

fn read_stderr_tail(index: usize, mut stderr: Watched<ChildStderr>, tx: &Sender<Event>) {
    let mut tail: Vec<u8> = Vec::new();
    let mut chunk = [0u8; 8192];
    loop {
        match stderr.read(&mut chunk) {
            Ok(0) => break,
            Ok(n) => {
                tail.extend_from_slice(&chunk[..n]);
                if tail.len() > STDERR_TAIL_BYTES {
                    tail.drain(..tail.len() - STDERR_TAIL_BYTES);
                }
            }
            Err(err) if err.kind() == io::ErrorKind::Interrupted => {}
            Err(_) => break,
        }
    }
    let _ = tx.send(Event::StderrDone(
        index,
        String::from_utf8_lossy(&tail).into_owned(),
    ));
}

/// Waits for the worker to exit, then kills whatever it left in its process group before
/// reaping it: until reaped, the worker's pid (which is the group id) cannot be reused, so the
/// group signal cannot reach an unrelated process.
fn reap(index: usize, mut child: Child, tx: &Sender<Event>) {
    let pid = child.id();
    let status = match sys::wait_for_exit_without_reaping(pid) {
        Ok(()) => {
            sys::signal_group(pid, libc::SIGKILL);
            child.wait().ok()
        }
        Err(_) => child.wait().ok(),
    };
    let _ = tx.send(Event::Exited(index, status));
}

#[cfg(test)]
mod tests {
    use std::fs::File;
    use std::io::Write;
    use std::os::fd::OwnedFd;
    use std::os::unix::net::UnixStream;
    use std::path::PathBuf;
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::sync::Arc;

    use super::*;
    use crate::model::Report;
    use crate::options::ProbeOptions;
    use crate::supervise::probe;

    fn options(program: &str, args: &[&str], total: Duration) -> ProbeOptions {
        ProbeOptions {
            backends: vec![BackendName::Opencl],
            level: Level::Quick,
            deadlines: Deadlines {
                total,
                ..Deadlines::DEFAULT
            },
            trust_env: true,
            worker: WorkerCommand {
                program: PathBuf::from(program),
                args: args.iter().map(OsString::from).collect(),
            },
            driver_cache: Some(std::env::temp_dir().join("hwspec-supervise-test-cache")),
            memory_limit: None,
            cache: None,
            overrides: false,
        }
    }

    fn only_backend(report: &Report) -> &BackendReport {
        assert_eq!(report.backends.len(), 1);
        &report.backends[0]
    }

    #[test]
    fn a_worker_that_cannot_start_is_reported() {
        let report = probe(&options("/nonexistent/hwspec", &[], Duration::from_secs(5)));
        let b = only_backend(&report);
        assert_eq!(b.status, Status::Unusable);
        assert_eq!(b.reason.as_ref().unwrap().code, ReasonCode::WorkerFailed);
    }

    // The shell scripts below stand in for a worker; the trailing backend and level arguments
    // land in $0 and $1 of `sh -c` and are ignored.

    #[test]
    fn a_hanging_worker_times_out_and_its_stage_is_named() {
        let script = r#"echo '{"stage":"init"}'; exec sleep 30"#;
        let started = Instant::now();
        let report = probe(&options(
            "/bin/sh",
            &["-c", script],
            Duration::from_millis(300),
        ));
        assert!(started.elapsed() < Duration::from_secs(3));
        let reason = only_backend(&report).reason.clone().unwrap();
        assert_eq!(reason.code, ReasonCode::Timeout);
        assert!(reason.message.contains("stage init"), "{}", reason.message);
        assert!(reason.message.contains("in all"), "{}", reason.message);
    }

    #[test]
    fn a_stage_over_its_own_limit_times_out_before_the_total() {
        let script = r#"echo '{"stage":"load"}'; echo '{"stage":"init"}'; exec sleep 30"#;
        let mut opts = options("/bin/sh", &["-c", script], Duration::from_secs(20));
        opts.deadlines.init = Duration::from_millis(300);
        let started = Instant::now();
        let report = probe(&opts);
        assert!(started.elapsed() < Duration::from_secs(5));
        let reason = only_backend(&report).reason.clone().unwrap();
        assert_eq!(reason.code, ReasonCode::Timeout);
        assert_eq!(reason.message, "stage init did not finish within 0.3 s");
    }

    #[test]
    fn a_crash_keeps_the_partial_devices() {
        let partial = serde_json::to_string(&WorkerMessage::Partial({
            let mut r =
                BackendReport::new(BackendName::Opencl, crate::model::Status::Enumerated, None);
            r.devices.push(crate::model::Device::new(
                "d",
                "v",
                crate::model::DeviceKind::Gpu,
            ));
            r
        }))
        .unwrap();
        let script = format!(
            r#"echo '{{"stage":"kernel"}}'; echo '{partial}'; echo boom >&2; kill -SEGV $$"#
        );
        let report = probe(&options(
            "/bin/sh",
            &["-c", &script],
            Duration::from_secs(5),
        ));
        let b = only_backend(&report);
        let reason = b.reason.clone().unwrap();
        assert_eq!(reason.code, ReasonCode::Crashed);
        assert!(reason.message.contains("SIGSEGV"), "{}", reason.message);
        assert!(
            reason.message.contains("stage kernel"),
            "{}",
            reason.message
        );
        assert!(reason.message.contains("boom"), "{}", reason.message);
        assert_eq!(b.devices.len(), 1);
    }

    #[test]
    fn garbage_and_silence_are_told_apart() {
        let garbage = probe(&options(
            "/bin/sh",
            &["-c", "echo hello world"],
            Duration::from_secs(5),
        ));
        assert_eq!(
            only_backend(&garbage).reason.as_ref().unwrap().code,
            ReasonCode::BadOutput
        );
        let partial = probe(&options(
            "/bin/sh",
            &["-c", r#"echo '{"stage":"load"}'"#],
            Duration::from_secs(5),
        ));
        assert_eq!(
            only_backend(&partial).reason.as_ref().unwrap().code,
            ReasonCode::PartialOutput
        );
    }

    /// A run whose worker has just exited without a report, its pipes watched through
    /// socket pairs; the other ends are returned to write into or close.
    fn exited_run(total: Duration) -> (Run, [(UnixStream, Arc<AtomicBool>); 2]) {
        let worker = WorkerCommand {
            program: PathBuf::from("/nonexistent/hwspec"),
            args: Vec::new(),
        };
        let now = Instant::now();
        let spawn = Spawn {
            worker: &worker,
            level: Level::Quick,
            deadlines: Deadlines {
                total,
                ..Deadlines::DEFAULT
            },
            hard_deadline: now + total,
            env: &[],
            guard_env: &[],
        };
        let mut run = Run::queued(BackendName::Opencl, &spawn, Vec::new());
        run.launched = true;
        run.pid = Some(std::process::id());
        run.stage = Some(Stage::Kernel);
        run.exit = Some((None, now));
        let watch = || {
            let (ours, theirs) = UnixStream::pair().unwrap();
            let reading = Arc::new(AtomicBool::new(false));
            let watch = PipeWatch::of(OwnedFd::from(ours), Arc::clone(&reading));
            (watch, (theirs, reading))
        };
        let (stdout, stdout_end) = watch();
        let (stderr, stderr_end) = watch();
        run.watches = Some((stdout, stderr));
        (run, [stdout_end, stderr_end])
    }

    #[test]
    fn output_on_its_way_after_the_exit_is_waited_for_however_long_the_reader_takes() {
        let (mut run, [(mut stdout, reading), _stderr]) = exited_run(Duration::from_secs(60));
        let now = Instant::now();
        // The worker's last line is still in the pipe: the reader has not run yet (a loaded
        // machine, a host under valgrind), long after the exit.
        stdout.write_all(b"{\"stage\":\"kernel\"}\n").unwrap();
        let later = now + Duration::from_secs(10);
        assert!(run.step(later).is_some());
        assert!(
            run.finished.is_none(),
            "gave up on output still in the pipe"
        );
        // The reader took the bytes but has not handed them on yet.
        let mut taken = [0u8; 64];
        let _ = run
            .watches
            .as_ref()
            .map(|(out, _)| out.copy().map(File::from))
            .unwrap()
            .unwrap()
            .read(&mut taken)
            .unwrap();
        reading.store(true, Ordering::SeqCst);
        assert!(run.step(later).is_some());
        assert!(run.finished.is_none(), "gave up on output the reader holds");
        // Handed on and back to waiting, with nothing more in the pipe (held open, as by a
        // descendant): the run ends, once events sent before are handled.
        reading.store(false, Ordering::SeqCst);
        assert_eq!(run.step(later), Some(later));
        assert!(run.finished.is_none());
        let after = later + Duration::from_millis(1);
        assert_eq!(run.step(after), None);
        assert!(run.finished.is_some());
        assert!(run.transient().is_none());
    }

    #[test]
    fn output_still_arriving_at_the_deadline_ends_the_run_as_transient() {
        let (mut run, [_stdout, (mut stderr, _)]) = exited_run(Duration::from_secs(2));
        stderr.write_all(b"still talking\n").unwrap();
        let past = Instant::now() + Duration::from_secs(3);
        assert_eq!(run.step(past), None);
        assert!(run.finished.is_some());
        let why = run.transient().expect("a cut-off run is transient");
        assert!(why.contains("still arriving"), "{why}");
    }

    #[test]
    fn an_end_of_file_the_reader_has_not_seen_is_waited_for() {
        let (mut run, [stdout, _stderr]) = exited_run(Duration::from_secs(60));
        drop(stdout);
        let now = Instant::now();
        assert!(run.step(now).is_some());
        assert!(run.finished.is_none());
        run.handle(Event::StdoutDone(0), now);
        run.handle(Event::StderrDone(0, String::new()), now);
        assert_eq!(run.step(now), None);
        assert!(run.finished.is_some());
    }

    #[test]
    fn a_grandchild_holding_the_pipe_does_not_delay_the_result() {
        let report_line = serde_json::to_string(&WorkerMessage::Report(BackendReport::absent(
            BackendName::Opencl,
            ReasonCode::NoDevice,
            "none",
        )))
        .unwrap();
        let script = format!("sleep 30 & echo '{report_line}'");
        let started = Instant::now();
        let report = probe(&options(
            "/bin/sh",
            &["-c", &script],
            Duration::from_secs(20),
        ));
        assert!(started.elapsed() < Duration::from_secs(5));
        assert_eq!(
            only_backend(&report).reason.as_ref().unwrap().code,
            ReasonCode::NoDevice
        );
    }
}
