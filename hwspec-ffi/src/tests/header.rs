//! The committed header is what the pinned cbindgen makes of the sources, and its version is
//! Cargo's.

use std::ffi::CStr;
use std::path::PathBuf;

use crate::hwspec_version;

fn crate_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn committed_header_path() -> PathBuf {
    crate_dir().join("include/hwspec.h")
}

/// The version macros, from Cargo.toml's version, placed after the includes.
fn version_macros() -> String {
    format!(
        "\n/* The version of this header; hwspec_version() gives the library's. */\n\
         #define HWSPEC_VERSION_MAJOR {}\n\
         #define HWSPEC_VERSION_MINOR {}\n\
         #define HWSPEC_VERSION_PATCH {}\n\
         #define HWSPEC_VERSION \"{}\"",
        env!("CARGO_PKG_VERSION_MAJOR"),
        env!("CARGO_PKG_VERSION_MINOR"),
        env!("CARGO_PKG_VERSION_PATCH"),
        env!("CARGO_PKG_VERSION"),
    )
}

/// The header as the pinned cbindgen generates it from `src/` and `cbindgen.toml`.
fn generate_header() -> String {
    let mut config = cbindgen::Config::from_file(crate_dir().join("cbindgen.toml"))
        .expect("hwspec-ffi/cbindgen.toml is readable");
    config.after_includes = Some(version_macros());
    let bindings = cbindgen::Builder::new()
        .with_config(config)
        .with_src(crate_dir().join("src/lib.rs"))
        .generate()
        .expect("cbindgen generates the header");
    let mut out = Vec::new();
    bindings.write(&mut out);
    String::from_utf8(out).expect("the header is UTF-8")
}

#[test]
fn header_matches_the_sources() {
    let generated = generate_header();
    let path = committed_header_path();
    if std::env::var_os("HWSPEC_BLESS").is_some_and(|v| v == "1") {
        std::fs::write(&path, &generated).expect("include/hwspec.h is writable");
        return;
    }
    let committed = std::fs::read_to_string(&path).unwrap_or_default();
    if committed != generated {
        let first_difference = committed
            .lines()
            .zip(generated.lines())
            .position(|(a, b)| a != b)
            .unwrap_or(committed.lines().count().min(generated.lines().count()))
            + 1;
        panic!(
            "{} is out of date with the sources (first difference at line {first_difference}); \
             regenerate it with `HWSPEC_BLESS=1 cargo test -p hwspec-ffi header`, review the \
             diff (docs/c-api.md: additions only within a SONAME) and commit it",
            path.display()
        );
    }
}

#[test]
fn header_declares_every_export_of_the_contract() {
    let header = generate_header();
    for function in [
        "hwspec_version",
        "hwspec_last_error",
        "hwspec_options_new",
        "hwspec_options_free",
        "hwspec_options_set_backends",
        "hwspec_options_set_level",
        "hwspec_options_set_timeout_ms",
        "hwspec_options_set_use_cache",
        "hwspec_options_set_max_age_s",
        "hwspec_options_set_trust_env",
        "hwspec_options_set_worker",
        "hwspec_probe",
        "hwspec_report_free",
        "hwspec_report_json",
        "hwspec_report_capability_count",
        "hwspec_report_capability",
        "hwspec_report_has",
        "hwspec_check",
        "hwspec_verdict_free",
        "hwspec_verdict_satisfied",
        "hwspec_verdict_explanation",
        "hwspec_verdict_json",
        "hwspec_package_requirement",
        "hwspec_string_free",
    ] {
        let declared = [' ', '*']
            .iter()
            .any(|c| header.contains(&format!("{c}{function}(")));
        assert!(declared, "{function}");
    }
    for declaration in [
        "typedef struct hwspec_options hwspec_options;",
        "typedef struct hwspec_report hwspec_report;",
        "typedef struct hwspec_verdict hwspec_verdict;",
        "typedef enum hwspec_result {",
        "typedef enum hwspec_package_file {",
        "hwspec_package_file kind,",
    ] {
        assert!(header.contains(declaration), "{declaration}");
    }
}

#[test]
fn version_macros_and_hwspec_version_are_cargos_version() {
    let header = std::fs::read_to_string(committed_header_path()).unwrap();
    let define = |name: &str| -> String {
        let prefix = format!("#define {name} ");
        header
            .lines()
            .find_map(|line| line.strip_prefix(&prefix))
            .unwrap_or_else(|| panic!("hwspec.h defines {name}"))
            .trim()
            .to_owned()
    };
    let cargo = env!("CARGO_PKG_VERSION");
    let parts: Vec<&str> = cargo.split(['.', '-', '+']).collect();
    assert_eq!(define("HWSPEC_VERSION_MAJOR"), parts[0]);
    assert_eq!(define("HWSPEC_VERSION_MINOR"), parts[1]);
    assert_eq!(define("HWSPEC_VERSION_PATCH"), parts[2]);
    assert_eq!(define("HWSPEC_VERSION"), format!("\"{cargo}\""));
    // SAFETY: hwspec_version returns a static NUL-terminated string.
    let version = unsafe { CStr::from_ptr(hwspec_version()) };
    assert_eq!(version.to_str().unwrap(), cargo);
}

#[test]
fn the_pkg_config_template_has_the_contracts_fields() {
    let template = std::fs::read_to_string(crate_dir().join("hwspec.pc.in")).unwrap();
    for line in [
        "prefix=@PREFIX@",
        "libdir=@LIBDIR@",
        "worker=@WORKER@",
        "Name: hwspec",
        "Version: @VERSION@",
        "Cflags: -I${includedir}",
        "Libs: -L${libdir} -lhwspec",
        "Libs.private: -lpthread -ldl -lm -llzma",
    ] {
        assert!(template.lines().any(|l| l == line), "{line}");
    }
}
