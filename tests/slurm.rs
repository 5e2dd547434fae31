//! hwspec's Slurm output against real Slurm daemons (Debian bookworm's slurmctld and slurmd
//! 22.05 with munge, installed by scripts/test.sh): each case runs a one-node cluster in its
//! own namespaces (`tests/slurm/one-node.sh`) whose slurm.conf includes what
//! `hwspec probe --format slurm` printed above the node's own line and whose gres.conf is what
//! `--format slurm-gres` printed, then checks that the node registers as configured and that
//! jobs are routed by the validated capabilities and GPUs. Needs root (namespaces, mknod in a
//! private /dev).

mod support;

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// What one cluster run left in `$WORK`.
struct Cluster {
    work: PathBuf,
}

/// One srun's arguments, output and exit status.
#[derive(Debug)]
struct Job {
    args: String,
    stdout: String,
    stderr: String,
    code: i32,
}

impl Cluster {
    /// Runs a cluster whose node gets its report through `hwspec_args`, with stand-in device
    /// nodes for `stand_ins` (none: the real /dev), running `jobs` (srun argument lines).
    fn run(
        name: &str,
        hwspec_args: &str,
        stand_ins: &[&str],
        jobs: &[&str],
        env: &[(&str, &str)],
    ) -> Cluster {
        for tool in [
            "slurmctld",
            "slurmd",
            "munged",
            "mungekey",
            "srun",
            "ip",
            "unshare",
        ] {
            let found = std::env::split_paths(&std::env::var_os("PATH").unwrap_or_default())
                .chain(["/usr/sbin".into(), "/sbin".into()])
                .any(|dir| dir.join(tool).exists());
            assert!(found, "{tool} is missing: scripts/test.sh installs slurmctld, slurmd, slurm-client, munge and iproute2");
        }
        assert!(
            hwspec_core::sys::is_root(),
            "the Slurm tests need root: namespaces and a private /dev"
        );
        let work = support::scratch_dir(&format!("slurm-{name}"));
        let jobs_file = work.join("jobs");
        std::fs::write(&jobs_file, jobs.join("\n") + "\n").unwrap();
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/slurm/one-node.sh");
        let mut child = Command::new("unshare")
            .args([
                "--mount",
                "--pid",
                "--fork",
                "--uts",
                "--net",
                "--mount-proc",
            ])
            .arg(&script)
            .env("WORK", &work)
            .env("HWSPEC", env!("CARGO_BIN_EXE_hwspec"))
            .env("HWSPEC_ARGS", hwspec_args)
            .env("STAND_IN_NODES", stand_ins.join(" "))
            .env("JOBS", &jobs_file)
            .env(
                "PATH",
                "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
            )
            .envs(env.iter().copied())
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("run unshare");
        // The script bounds every step itself; this only catches a wedged namespace. Killing
        // unshare's child, the namespace's first process, kills every daemon in it.
        let started = Instant::now();
        while child.try_wait().unwrap().is_none() {
            if started.elapsed() > Duration::from_secs(600) {
                let _ = child.kill();
                let _ = child.wait();
                panic!(
                    "the one-node cluster did not finish in 10 minutes; logs in {}",
                    work.display()
                );
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        let output = child.wait_with_output().unwrap();
        assert!(
            output.status.success(),
            "one-node.sh failed ({:?}): {}{}\nslurmctld: {}\nslurmd: {}",
            output.status,
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr),
            read(&work.join("log/slurmctld.log")),
            read(&work.join("log/slurmd.log")),
        );
        Cluster { work }
    }

    fn out(&self, name: &str) -> String {
        read(&self.work.join("out").join(name))
    }

    fn etc(&self, name: &str) -> String {
        read(&self.work.join("etc").join(name))
    }

    fn job(&self, n: usize) -> Job {
        Job {
            args: self.out(&format!("job{n}.args")).trim().to_owned(),
            stdout: self.out(&format!("job{n}.out")),
            stderr: self.out(&format!("job{n}.err")),
            code: self.out(&format!("job{n}.rc")).trim().parse().unwrap_or(-1),
        }
    }

    /// The node's `sinfo` line: `name|state|features|gres`.
    fn sinfo(&self) -> Vec<String> {
        let line = self.out("sinfo");
        line.trim().split('|').map(str::to_owned).collect()
    }

    /// Panics with everything a person needs to see why the cluster misbehaved.
    fn fail(&self, what: &str) -> ! {
        panic!(
            "{what}\nsinfo: {}\nscontrol: {}\ninclude: {}\ngres.conf: {}\nslurmctld: {}\nslurmd: {}",
            self.out("sinfo"),
            self.out("scontrol"),
            self.etc("hwspec-hwspecnode.conf"),
            self.etc("gres.conf"),
            read(&self.work.join("log/slurmctld.log")),
            read(&self.work.join("log/slurmd.log")),
        )
    }

    fn assert_idle(&self) {
        let sinfo = self.sinfo();
        if sinfo.len() != 4 || sinfo[0] != "hwspecnode" || sinfo[1] != "idle" {
            self.fail("the node did not register as idle");
        }
        let scontrol = self.out("scontrol");
        if scontrol.contains("INVALID") || scontrol.contains("Reason=") {
            self.fail("the node's registration was refused");
        }
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        if !std::thread::panicking() {
            let _ = std::fs::remove_dir_all(&self.work);
        }
    }
}

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_else(|e| format!("({}: {e})", path.display()))
}

fn replay_fixture() -> String {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../tests/fixtures/reports/synthetic-cuda-2xT4-hip-W6800.json")
        .display()
        .to_string()
}

/// A real probe of this machine (PoCL's validated OpenCL device): the features reach the node
/// and `--constraint` sends a job only where the capability was proven.
#[test]
fn slurm_routes_jobs_by_validated_features() {
    let cluster = Cluster::run(
        "features",
        "--backend cpu,opencl",
        &[],
        &[
            "--constraint=opencl hostname",
            "--constraint=opencl-3.0&cpu hostname",
            "--constraint=cuda hostname",
        ],
        &[],
    );
    cluster.assert_idle();
    let features: Vec<String> = cluster.sinfo()[2].split(',').map(str::to_owned).collect();
    for feature in ["cpu", "opencl", "opencl-3.0"] {
        if !features.iter().any(|f| f == feature) {
            cluster.fail(&format!("feature {feature} missing"));
        }
    }
    if cluster.sinfo()[3] != "(null)" {
        cluster.fail("a machine without a validated GPU got GRES");
    }
    for n in [1, 2] {
        let job = cluster.job(n);
        assert_eq!((job.code, job.stdout.trim()), (0, "hwspecnode"), "{job:?}");
    }
    let refused = cluster.job(3);
    assert_ne!(refused.code, 0, "{refused:?}");
    assert!(
        refused.stderr.contains("Invalid feature specification"),
        "{refused:?}"
    );
}

/// A replayed report with two validated Tesla T4s and a Radeon PRO W6800, behind stand-in
/// device nodes: slurmd accepts the typed GRES and their files, and jobs get GPUs by type and
/// capability with the runtime's visibility variable set.
#[test]
fn slurm_accepts_hwspec_gres_for_validated_gpus() {
    let report = replay_fixture();
    let cluster = Cluster::run(
        "gres",
        &format!("--report {report}"),
        &["/dev/nvidia0", "/dev/nvidia1", "/dev/dri/renderD128"],
        &[
            "--constraint=cuda-arch-7.5 --gres=gpu:tesla_t4:2 printenv CUDA_VISIBLE_DEVICES",
            "--constraint=rocm-gfx1030 --gres=gpu:amd_radeon_pro_w6800:1 printenv ROCR_VISIBLE_DEVICES",
            "--gres=gpu:tesla_t4:3 true",
            "--gres=gpu:nvidia_a100:1 true",
        ],
        &[],
    );
    cluster.assert_idle();
    let gres = &cluster.sinfo()[3];
    for expected in ["gpu:tesla_t4:2", "gpu:amd_radeon_pro_w6800:1"] {
        if !gres.contains(expected) {
            cluster.fail(&format!("GRES lack {expected}"));
        }
    }
    let nvidia = cluster.job(1);
    assert_eq!(
        (nvidia.code, nvidia.stdout.trim()),
        (0, "0,1"),
        "{nvidia:?}"
    );
    // On a node with both vendors' GPUs Slurm numbers them together (the W6800 is the third
    // gres.conf line) and sets every runtime's variable; docs/integration.md says so.
    let amd = cluster.job(2);
    assert_eq!((amd.code, amd.stdout.trim()), (0, "2"), "{amd:?}");
    for n in [3, 4] {
        let job = cluster.job(n);
        assert_ne!(job.code, 0, "more or other GPUs than validated: {job:?}");
    }
}

/// `HWSPEC_OVERRIDE_GPU_COUNT` changes the features only: the GRES still list the validated
/// GPUs with their device files, so the node registers instead of going INVAL.
#[test]
fn slurm_output_stays_consistent_under_an_override() {
    let report = replay_fixture();
    let cluster = Cluster::run(
        "override",
        &format!("--report {report}"),
        &["/dev/nvidia0", "/dev/nvidia1", "/dev/dri/renderD128"],
        &["--constraint=gpu-count-8 --gres=gpu:tesla_t4:1 printenv CUDA_VISIBLE_DEVICES"],
        &[("HWSPEC_OVERRIDE_GPU_COUNT", "8")],
    );
    cluster.assert_idle();
    assert!(
        cluster
            .etc("hwspec-hwspecnode.conf")
            .contains("# overridden: HWSPEC_OVERRIDE_GPU_COUNT=8"),
        "{}",
        cluster.etc("hwspec-hwspecnode.conf")
    );
    if !cluster.sinfo()[3].contains("gpu:tesla_t4:2") {
        cluster.fail("the override changed the GRES");
    }
    let job = cluster.job(1);
    assert_eq!(
        (job.code, job.stdout.trim()),
        (0, "0"),
        "{job:?} ({})",
        job.args
    );
}
