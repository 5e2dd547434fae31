//! Runs `hwspec conda-detect` as rattler runs a registered detector and parses its report with
//! rattler's parser, for a registration of the four names hwspec answers for.
//!
//! Usage: `hwspec-rattler-check HWSPEC [REPORT]`: HWSPEC is the hwspec binary; with REPORT the
//! detector answers from that captured report (`hwspec conda-detect --report REPORT`). Exits 0
//! and prints the verdicts when rattler accepts the report, 1 with rattler's error otherwise.

use std::path::PathBuf;
use std::process::ExitCode;

use rattler_conda_types::virtual_package_detector::DetectorRegistration;
use rattler_conda_types::{PackageName, Subdir, VirtualPackageName};
use rattler_virtual_package_detectors::{parse_report, run_detector, EnvironmentSnapshot, RunLimits};

#[tokio::main(flavor = "current_thread")]
async fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let Some(hwspec) = args.first().map(PathBuf::from) else {
        eprintln!("usage: hwspec-rattler-check HWSPEC [REPORT]");
        return ExitCode::from(2);
    };
    let hwspec = std::fs::canonicalize(&hwspec).unwrap_or(hwspec);
    // A detector environment as a client installs it: bin/<detector name>.
    let prefix = std::env::temp_dir().join(format!("hwspec-rattler-check-{}", std::process::id()));
    let bin = prefix.join("bin");
    std::fs::create_dir_all(&bin).expect("create the detector prefix");
    let report = match args.get(1) {
        Some(report) => format!(" --report '{}'", std::fs::canonicalize(report).expect("REPORT").display()),
        None => String::new(),
    };
    let executable = bin.join("hwspec-detect");
    std::fs::write(
        &executable,
        format!("#!/bin/sh\nexec '{}' conda-detect{report}\n", hwspec.display()),
    )
    .expect("write the detector");
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&executable, std::fs::Permissions::from_mode(0o755))
            .expect("make the detector executable");
    }
    let detector: PackageName = "hwspec-detect".parse().expect("package name");
    let registration = DetectorRegistration {
        detector: detector.clone(),
        virtual_packages: ["__cuda", "__cuda_arch", "__amdgpu", "__amdgpu_arch"]
            .into_iter()
            .map(|name| VirtualPackageName::try_from(name).expect("virtual package name"))
            .collect(),
    };
    let run = run_detector(
        &prefix,
        &detector,
        Subdir::Linux64,
        &EnvironmentSnapshot::from_system(),
        RunLimits::default(),
    )
    .await;
    let _ = std::fs::remove_dir_all(&prefix);
    let run = match run {
        Ok(run) => run,
        Err(error) => {
            eprintln!("rattler's run_detector failed: {error}");
            return ExitCode::from(1);
        }
    };
    match parse_report(&run.stdout, &registration) {
        Ok(report) => {
            for (name, verdict) in &report.virtual_packages {
                match verdict {
                    Some(v) => println!("{} = {} (build {})", name.as_source(), v.version, v.build_string),
                    None => println!("{} absent", name.as_source()),
                }
            }
            println!("cache: {:?}", report.cache);
            ExitCode::SUCCESS
        }
        Err(error) => {
            eprintln!("rattler's parse_report refused the report: {error}");
            ExitCode::from(1)
        }
    }
}
