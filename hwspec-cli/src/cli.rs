//! The command line, as clap definitions. Also used to generate the man pages and completions.

use std::path::PathBuf;
use std::time::Duration;

use clap::builder::{PossibleValuesParser, TypedValueParser};
use clap::{Parser, Subcommand};
use hwspec_core::protocol::Stage;
use hwspec_core::{BackendName, Level};

/// Which accelerators can this machine really use?
///
/// hwspec loads each GPU/compute runtime (OpenCL, Vulkan, CUDA, ROCm/HIP, Level Zero) in an
/// isolated worker process, lists its devices, runs a small validation kernel on each and
/// compares the result with the CPU, then prints what was proven as a set of capabilities.
#[derive(Debug, Parser)]
#[command(name = "hwspec", version, about, long_about, max_term_width = 100)]
#[command(after_help = "Exit status: probe: 0 when it ran, whatever it found; \
check: 0 satisfied, 1 not satisfied (or --skip-code); apt-hook: 0, or 1 when --refuse refuses; \
any command: 1 when hwspec itself failed (e.g. could not write its output), \
2 for invalid input or usage.")]
pub struct Cli {
    /// What to do.
    #[command(subcommand)]
    pub command: Commands,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Commands {
    /// Probe the runtimes and devices of this machine and print what was proven.
    ///
    /// Each backend runs in its own worker process with a deadline (a runtime whose library the
    /// dynamic loader provably cannot find needs none); a runtime that is missing, hangs or
    /// crashes is reported with a reason, never as an error of hwspec itself.
    /// The readable table goes to standard output; diagnostics go to standard error.
    Probe(ProbeArgs),
    /// Decide whether this machine satisfies a requirement (an X-Requires-Hwspec expression).
    ///
    /// The requirement comes from the command line or from a package: debian/control (the
    /// source stanza and every binary stanza must be satisfied), a .dsc or a .deb; a missing
    /// field means `cpu`. Exit status: 0 satisfied, 1 (or --skip-code) not satisfied, 2 invalid
    /// input or usage. Nothing is printed unless --explain or --json asks for it. The answer
    /// comes from the report cache while it is still true, else from a probe.
    Check(CheckArgs),
    /// Warn about (or refuse) packages apt is about to install whose X-Requires-Hwspec this
    /// machine does not satisfy: a DPkg::Pre-Install-Pkgs hook, reading .deb paths on stdin.
    ///
    /// Reads APT's hook protocol versions 1 to 3 (at most 16 MiB). Messages go to standard
    /// error. apt stops when its hook fails, so the exit status is 1 only with --refuse (or the
    /// apt option Hwspec::Refuse), for a package not installed yet whose well-formed
    /// requirement a complete probe does not satisfy; anything else (an upgrade of an installed
    /// package, unreadable or malformed input, a package that cannot be read or whose field is
    /// malformed, a bad environment, a probe that timed out, an internal error) is a warning,
    /// with exit status 0.
    AptHook(AptHookArgs),
    /// Answer conda's virtual package detector protocol: print __cuda, __cuda_arch, __amdgpu
    /// and __amdgpu_arch from validated GPUs as one JSON report.
    ///
    /// A conda client (rattler, pixi, conda) runs a registered detector with no arguments and
    /// reads the report from standard output; this command is that detector (a wrapper script
    /// named after the detector package runs it). Only the CUDA and HIP runtimes are probed,
    /// under a deadline that keeps the run within the protocol's 30-second default, and the
    /// report cache answers while it is true. Exit status 0 with the report; 2 for invalid
    /// usage, with nothing on standard output.
    CondaDetect(CondaDetectArgs),
    /// Print a shell completion script to standard output.
    Completions {
        /// The shell to complete for.
        shell: clap_complete::Shell,
    },
}

/// Options of `hwspec probe`.
#[derive(Debug, clap::Args)]
pub struct ProbeArgs {
    /// Output format: `table` for people, `json` for the whole report, `nfd` for a Kubernetes
    /// Node Feature Discovery features.d file (one feature.node.kubernetes.io/hwspec-* label per
    /// line), `slurm` for a slurm.conf include setting this node's Features= and Gres=,
    /// `slurm-gres` for this node's gres.conf lines (one per validated GPU, with File=),
    /// `debci` for Debian ROCm CI worker tags (amd64+gfx1030, one per line).
    #[arg(long, value_enum, default_value_t = Format::Table)]
    pub format: Format,

    /// With --format nfd: how long the labels stay valid, in seconds from now, after which
    /// NFD drops them unless the file was rewritten. The default, 10800 (3 hours), outlasts two
    /// missed runs of an hourly refresh.
    #[arg(long, value_name = "SECONDS", default_value = "10800", value_parser = parse_validity)]
    pub valid_for: Duration,

    /// With --format nfd: also write NVIDIA GPU Feature Discovery's label names
    /// (nvidia.com/gpu.product, gpu.count, gpu.memory, gpu.compute.major/minor,
    /// cuda.runtime-version.*) from the validated CUDA GPUs, for pods that select on them.
    #[arg(long)]
    pub gfd_labels: bool,

    /// Print the report as a JSON document (the same as --format json).
    #[arg(long, conflicts_with = "format")]
    pub json: bool,

    /// Write the output to FILE instead of standard output, atomically (a temporary file in the
    /// same directory, renamed into place), so a reader never sees half of it. FILE must be a
    /// regular file, a symlink to one, or absent: a device, FIFO, socket or directory is
    /// refused (exit status 1), and so is a symlink another user made in a sticky directory.
    #[arg(long, short, value_name = "FILE")]
    pub output: Option<PathBuf>,

    /// What to probe and how.
    #[command(flatten)]
    pub probe: ProbeOpts,
}

/// Options of `hwspec check`.
#[derive(Debug, clap::Args)]
pub struct CheckArgs {
    /// The requirement in Debian relationship syntax, e.g. 'cuda (>= 12.0) | rocm' (`,` is
    /// AND, `|` is OR; see docs/requirements.md). An empty expression means `cpu`. At most
    /// 64 KiB and 1024 relations.
    #[arg(
        value_name = "EXPR",
        conflicts_with_all = ["control", "dsc", "deb"],
        required_unless_present_any = ["control", "dsc", "deb", "worker_tag"]
    )]
    pub expr: Option<String>,

    /// Read X-Requires-Hwspec from a debian/control file (a regular file of at most 4 MiB).
    #[arg(long, value_name = "FILE", conflicts_with_all = ["dsc", "deb"])]
    pub control: Option<PathBuf>,

    /// With --control: check the source stanza and this binary package only.
    #[arg(long, value_name = "NAME", requires = "control")]
    pub package: Option<String>,

    /// Read the field from a source package's .dsc file (a regular file of at most 4 MiB).
    #[arg(long, value_name = "FILE", conflicts_with = "deb")]
    pub dsc: Option<PathBuf>,

    /// Read the field from a binary package (.deb), as dpkg-deb reads it; its control member
    /// may hold at most 64 MiB, stored or decompressed.
    #[arg(long, value_name = "FILE")]
    pub deb: Option<PathBuf>,

    /// Judge a Debian ROCm CI worker tag such as amd64+gfx1030: satisfied when this machine is
    /// that Debian architecture and every AMD GPU is a validated GPU of that architecture.
    #[arg(
        long,
        value_name = "TAG",
        value_parser = parse_worker_tag,
        conflicts_with_all = ["expr", "control", "dsc", "deb"]
    )]
    pub worker_tag: Option<hwspec_core::amdgpu::WorkerTag>,

    /// Print, for each clause, whether it is satisfied and by which device, or why not.
    #[arg(long)]
    pub explain: bool,

    /// Print the verdict as JSON.
    #[arg(long, conflicts_with = "explain")]
    pub json: bool,

    /// Exit with N instead of 1 when the requirement is not satisfied; autopkgtest's
    /// `skippable` restriction uses 77. 0 and 2 are not allowed (2 means invalid input).
    #[arg(long, value_name = "N", default_value = "1", value_parser = parse_skip_code)]
    pub skip_code: u8,

    /// What to probe and how, when no cached report answers.
    #[command(flatten)]
    pub probe: ProbeOpts,
}

/// Options of `hwspec apt-hook`.
#[derive(Debug, clap::Args)]
pub struct AptHookArgs {
    /// Make apt stop (exit 1) when a package that is not installed yet has a requirement this
    /// machine does not satisfy, instead of warning; the apt option Hwspec::Refuse does the same.
    #[arg(long)]
    pub refuse: bool,

    /// What to probe and how, when no cached report answers.
    #[command(flatten)]
    pub probe: ProbeOpts,
}

/// Options of `hwspec conda-detect`. A detector is run without arguments, so every default is
/// what a conda client gets.
#[derive(Debug, clap::Args)]
pub struct CondaDetectArgs {
    /// The virtual packages the detector's registration declares, comma-separated: the report
    /// has a verdict for exactly these (default: __cuda,__cuda_arch,__amdgpu,__amdgpu_arch).
    #[arg(
        long,
        value_name = "LIST",
        value_delimiter = ',',
        value_parser = crate::export::conda::parse_name
    )]
    pub virtual_packages: Vec<&'static str>,

    /// Deadline for the CUDA and HIP probes, in seconds (default 20, inside the protocol's
    /// 30-second default).
    #[arg(long, value_name = "SECONDS", default_value = "20", value_parser = parse_timeout)]
    pub timeout: Duration,

    /// Probe now even if a cached report is still true.
    #[arg(long)]
    pub fresh: bool,

    /// Oldest cached report to use, in seconds.
    #[arg(long, value_name = "SECONDS", default_value = "3600", value_parser = parse_age)]
    pub max_age: Duration,

    /// Pass loader variables to the workers even when running as root.
    #[arg(long)]
    pub trust_env: bool,

    /// Answer from the report in FILE (written by hwspec probe --json) instead of probing.
    #[arg(long, value_name = "FILE", conflicts_with_all = ["fresh", "max_age", "timeout", "trust_env"])]
    pub report: Option<PathBuf>,
}

/// Output formats of `hwspec probe`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    /// A readable table.
    Table,
    /// The report as JSON (docs/report.md).
    Json,
    /// Node Feature Discovery labels.
    Nfd,
    /// A slurm.conf include with this node's Features= and Gres=.
    Slurm,
    /// This node's gres.conf lines.
    SlurmGres,
    /// Debian ROCm CI worker tags.
    Debci,
}

/// How a report is obtained: which backends, how deep, under which deadlines, and whether a
/// cached report may answer.
#[derive(Debug, clap::Args)]
pub struct ProbeOpts {
    /// Backends to probe, comma-separated (default: all).
    #[arg(long, value_name = "LIST", value_delimiter = ',', value_parser = backend_parser())]
    pub backend: Vec<BackendName>,

    /// How much to prove: quick lists devices only, standard also validates each (a SAXPY kernel
    /// on compute devices, a render on EGL, a decode context or codec query on VA-API and
    /// NVDEC/NVENC), full adds a small SGEMM and EGL's desktop OpenGL render.
    #[arg(long, value_parser = level_parser(), default_value = "standard")]
    pub level: Level,

    /// Deadline for each backend, in seconds, from its worker's start to its result (re-probes
    /// of single drivers included); a worker that exceeds it is stopped and reported with
    /// reason `timeout`.
    #[arg(long, value_name = "SECONDS", default_value = "60", value_parser = parse_timeout)]
    pub timeout: Duration,

    /// Deadline of one stage of every worker (load, init, enumerate or kernel), in seconds from
    /// the moment the worker enters it; may be given once per stage. Defaults: load=10,
    /// init=20, enumerate=10, kernel=20, each at most half of --timeout.
    #[arg(long, value_name = "STAGE=SECONDS", value_parser = parse_stage_timeout)]
    pub stage_timeout: Vec<(Stage, Duration)>,

    /// Pass loader variables (LD_*, VK_*, OCL_ICD_*, OPENCL_*, POCL_*, MESA_*, ZE_*,
    /// CUDA_INJECTION64_PATH, HSA_TOOLS_LIB, ...) and the caller's HOME, TMPDIR, XDG_* and PATH
    /// to the workers even when running as root. Without it, root's workers get none of them
    /// that another user could have chosen, and the report lists the names withheld.
    #[arg(long)]
    pub trust_env: bool,

    /// Memory limit of each worker, in MiB of anonymous resident memory (what a leaking driver
    /// grows; address space is not limited, as CUDA reserves far more than it uses). A worker
    /// over it is stopped and reported with reason `memory-limit`. 0: no limit.
    #[arg(long, value_name = "MIB", default_value_t = hwspec_core::options::DEFAULT_MEMORY_LIMIT >> 20, value_parser = clap::value_parser!(u64).range(0..=1 << 30))]
    pub memory_limit: u64,

    /// Probe now even if a cached report is still true (the new report replaces it).
    #[arg(long)]
    pub fresh: bool,

    /// Judge and render the report in FILE instead of probing this machine: one written by
    /// `hwspec probe --json` here or elsewhere (a GPU machine, scripts/device-check.sh). Its
    /// capabilities are reduced again from its backends; overrides apply as usual.
    #[arg(long, value_name = "FILE", conflicts_with_all = ["backend", "fresh", "trust_env"])]
    pub report: Option<std::path::PathBuf>,

    /// Oldest cached report to use, in seconds. A cached report is used only while nothing it
    /// depends on has changed (boot, driver modules, device nodes, ICDs, Vulkan manifests,
    /// installed libraries, the workers' environment) and it is younger than this.
    #[arg(long, value_name = "SECONDS", default_value = "3600", value_parser = parse_age)]
    pub max_age: Duration,
}

fn backend_parser() -> impl TypedValueParser<Value = BackendName> {
    let names = BackendName::ALL.iter().map(|b| b.as_str());
    PossibleValuesParser::new(names).try_map(|s| BackendName::parse(&s).ok_or("unknown backend"))
}

fn level_parser() -> impl TypedValueParser<Value = Level> {
    PossibleValuesParser::new(["quick", "standard", "full"])
        .try_map(|s| Level::parse(&s).ok_or("unknown level"))
}

fn parse_stage_timeout(text: &str) -> Result<(Stage, Duration), String> {
    let (stage, seconds) = text
        .split_once('=')
        .ok_or_else(|| format!("`{text}` is not STAGE=SECONDS"))?;
    let stage = match stage {
        "load" => Stage::Load,
        "init" => Stage::Init,
        "enumerate" => Stage::Enumerate,
        "kernel" => Stage::Kernel,
        other => {
            return Err(format!(
                "`{other}` is not a stage: use load, init, enumerate or kernel"
            ))
        }
    };
    Ok((stage, parse_timeout(seconds)?))
}

fn parse_skip_code(text: &str) -> Result<u8, String> {
    match text.parse::<u8>() {
        Ok(0) => Err("0 would mean satisfied".to_owned()),
        Ok(2) => Err("2 means invalid input".to_owned()),
        Ok(code) => Ok(code),
        Err(_) => Err(format!("`{text}` is not an exit status from 1 to 255")),
    }
}

fn parse_worker_tag(text: &str) -> Result<hwspec_core::amdgpu::WorkerTag, String> {
    hwspec_core::amdgpu::WorkerTag::parse(text)
}

fn parse_validity(text: &str) -> Result<Duration, String> {
    let validity = parse_age(text)?;
    if validity < Duration::from_secs(60) {
        return Err(format!(
            "`{text}` is too short: labels valid for under a minute expire before NFD reads them"
        ));
    }
    Ok(validity)
}

fn parse_age(text: &str) -> Result<Duration, String> {
    let seconds: f64 = text
        .parse()
        .map_err(|_| format!("`{text}` is not a number of seconds"))?;
    if !(0.0..=31_536_000.0).contains(&seconds) {
        return Err(format!(
            "`{text}` is out of range: give 0 to 31536000 seconds"
        ));
    }
    Ok(Duration::from_secs_f64(seconds))
}

fn parse_timeout(text: &str) -> Result<Duration, String> {
    let seconds: f64 = text
        .parse()
        .map_err(|_| format!("`{text}` is not a number of seconds"))?;
    if !(seconds > 0.0 && seconds <= 86_400.0) {
        return Err(format!(
            "`{text}` is out of range: give more than 0 and at most 86400 seconds"
        ));
    }
    Ok(Duration::from_secs_f64(seconds))
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn the_command_line_definition_is_consistent() {
        Cli::command().debug_assert();
    }

    /// The default validity covers three runs of the hourly hwspec-features.timer.
    #[test]
    fn nfd_labels_outlast_two_missed_hourly_refreshes_by_default() {
        let cli = Cli::try_parse_from(["hwspec", "probe", "--format", "nfd"]).unwrap();
        let Commands::Probe(args) = cli.command else {
            panic!("not probe")
        };
        assert_eq!(args.valid_for, Duration::from_secs(3 * 3600));
        assert!(parse_validity("59").is_err());
        assert!(parse_validity("-1").is_err());
        assert_eq!(parse_validity("86400"), Ok(Duration::from_secs(86400)));
    }

    #[test]
    fn timeouts_are_checked() {
        assert_eq!(parse_timeout("1.5"), Ok(Duration::from_millis(1500)));
        assert!(parse_timeout("0").is_err());
        assert!(parse_timeout("-3").is_err());
        assert!(parse_timeout("NaN").is_err());
        assert!(parse_timeout("inf").is_err());
        assert!(parse_timeout("soon").is_err());
    }

    #[test]
    fn stage_timeouts_name_a_stage_and_seconds() {
        assert_eq!(
            parse_stage_timeout("init=2.5"),
            Ok((Stage::Init, Duration::from_millis(2500)))
        );
        assert!(parse_stage_timeout("init").is_err());
        assert!(parse_stage_timeout("boot=3")
            .unwrap_err()
            .contains("not a stage"));
        assert!(parse_stage_timeout("kernel=0").is_err());
    }

    #[test]
    fn backend_lists_are_comma_separated() {
        let cli = Cli::try_parse_from(["hwspec", "probe", "--backend", "opencl,vulkan"]).unwrap();
        let Commands::Probe(args) = cli.command else {
            panic!("not probe")
        };
        assert_eq!(
            args.probe.backend,
            [BackendName::Opencl, BackendName::Vulkan]
        );
        assert!(Cli::try_parse_from(["hwspec", "probe", "--backend", "cuda9"]).is_err());
    }
}
