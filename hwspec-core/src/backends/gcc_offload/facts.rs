//! Finding the offload compilers and libgomp plugins Debian installs, in a directory tree whose
//! root is a parameter so that tests lay out fake trees.
//!
//! `gcc-N-offload-<target>` puts the target's `mkoffload` in
//! `/usr/lib/gcc/<multiarch>/N/accel/<target>/`, where the driver `gcc-N` looks for it when it
//! links with `-foffload=<target>`; `libgomp-plugin-<name>1` puts the plugin libgomp loads at
//! run time in `/usr/lib/<multiarch>/`.

use std::path::{Path, PathBuf};

/// One GCC offload target.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct Target {
    /// The target triple `-foffload=` takes and `accel/` names.
    pub(crate) triple: &'static str,
    /// The architecture as the capability vocabulary names it (`gcc-offload-<arch>`).
    pub(crate) arch: &'static str,
    /// What Debian's compiler package is called after `gcc-N-`.
    pub(crate) compiler_package: &'static str,
    /// The libgomp plugin's file name.
    pub(crate) plugin: &'static str,
    /// The Debian package holding the plugin.
    pub(crate) plugin_package: &'static str,
}

/// Every target Debian builds offload compilers for, in report order.
pub(crate) const TARGETS: &[Target] = &[
    Target {
        triple: "nvptx-none",
        arch: "nvptx",
        compiler_package: "offload-nvptx",
        plugin: "libgomp-plugin-nvptx.so.1",
        plugin_package: "libgomp-plugin-nvptx1",
    },
    Target {
        triple: "amdgcn-amdhsa",
        arch: "amdgcn",
        compiler_package: "offload-amdgcn",
        plugin: "libgomp-plugin-gcn.so.1",
        plugin_package: "libgomp-plugin-amdgcn1",
    },
];

/// Where to look: a root directory and the host's multiarch tuple.
#[derive(Debug, Clone)]
pub struct Layout {
    /// `/` on a real system.
    pub root: PathBuf,
    /// Debian's multiarch tuple of the host (`x86_64-linux-gnu`).
    pub multiarch: String,
}

impl Layout {
    /// The running system.
    pub fn system() -> Layout {
        Layout {
            root: PathBuf::from("/"),
            multiarch: host_multiarch(),
        }
    }

    fn usr_bin(&self) -> PathBuf {
        self.root.join("usr/bin")
    }

    fn gcc_libdir(&self) -> PathBuf {
        self.root.join("usr/lib/gcc").join(&self.multiarch)
    }

    fn libdir(&self) -> PathBuf {
        self.root.join("usr/lib").join(&self.multiarch)
    }
}

/// Debian's multiarch tuple for the architecture this was built for.
fn host_multiarch() -> String {
    let arch = std::env::consts::ARCH;
    match arch {
        "powerpc64" if cfg!(target_endian = "little") => "powerpc64le-linux-gnu".to_owned(),
        "x86" => "i386-linux-gnu".to_owned(),
        "arm" => "arm-linux-gnueabihf".to_owned(),
        _ => format!("{arch}-linux-gnu"),
    }
}

/// One offload compiler found: the GCC version chosen for a target, and what goes with it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct OffloadCompiler {
    /// The target.
    pub(crate) target: &'static Target,
    /// The GCC version directory holding its `mkoffload` (the major version, `12`).
    pub(crate) version: String,
    /// The `gcc-N` driver, or `None` when only the offload compiler is there.
    pub(crate) driver: Option<PathBuf>,
    /// The target's `mkoffload`.
    pub(crate) mkoffload: PathBuf,
    /// The libgomp plugin, where installed.
    pub(crate) plugin: Option<PathBuf>,
    /// Whether plain `gcc` is this version.
    pub(crate) default_gcc: bool,
    /// Other GCC versions with an offload compiler for the same target, oldest first.
    pub(crate) other_versions: Vec<String>,
}

/// What is installed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Installation {
    /// Versions `N` of the `gcc-N` drivers, oldest first.
    pub(crate) gcc_versions: Vec<String>,
    /// The version plain `gcc` runs, when it is a link to a versioned driver.
    pub(crate) default_version: Option<String>,
    /// One compiler per target that has one, in [`TARGETS`] order.
    pub(crate) compilers: Vec<OffloadCompiler>,
}

/// Finds what is installed under `layout`. Per target, the version plain `gcc` runs is chosen
/// when it has an offload compiler for the target, since that is what packages build with;
/// otherwise the newest. One device per target keeps a GPU from being counted once per GCC.
pub(crate) fn detect(layout: &Layout) -> Installation {
    let gcc_versions = sorted_versions(names_in(&layout.usr_bin()).filter_map(|name| {
        name.strip_prefix("gcc-")
            .filter(|v| is_version(v))
            .map(str::to_owned)
    }));
    let default_version = default_version(layout);
    let libdir_versions = sorted_versions(names_in(&layout.gcc_libdir()).filter(|n| is_version(n)));
    let compilers = TARGETS
        .iter()
        .filter_map(|target| {
            let versions: Vec<String> = libdir_versions
                .iter()
                .filter(|v| mkoffload(layout, v, target).is_file())
                .cloned()
                .collect();
            let chosen = default_version
                .as_ref()
                .filter(|d| versions.contains(d))
                .or(versions.last())?
                .clone();
            Some(OffloadCompiler {
                target,
                driver: driver(layout, &chosen),
                mkoffload: mkoffload(layout, &chosen, target),
                plugin: Some(layout.libdir().join(target.plugin)).filter(|p| p.exists()),
                default_gcc: default_version.as_ref() == Some(&chosen),
                other_versions: versions.iter().filter(|v| **v != chosen).cloned().collect(),
                version: chosen,
            })
        })
        .collect();
    Installation {
        gcc_versions,
        default_version,
        compilers,
    }
}

fn mkoffload(layout: &Layout, version: &str, target: &Target) -> PathBuf {
    layout
        .gcc_libdir()
        .join(version)
        .join("accel")
        .join(target.triple)
        .join("mkoffload")
}

/// `gcc-N`, or Debian's triplet-prefixed name for it.
fn driver(layout: &Layout, version: &str) -> Option<PathBuf> {
    let bin = layout.usr_bin();
    [
        format!("gcc-{version}"),
        format!("{}-gcc-{version}", layout.multiarch),
    ]
    .into_iter()
    .map(|name| bin.join(name))
    .find(|path| path.is_file())
}

/// The version plain `gcc` runs: Debian makes it a link to `gcc-N` (bookworm) or to
/// `<multiarch>-gcc-N` (later releases).
fn default_version(layout: &Layout) -> Option<String> {
    let real = std::fs::canonicalize(layout.usr_bin().join("gcc")).ok()?;
    let name = real.file_name()?.to_str()?;
    let name = name
        .strip_prefix(layout.multiarch.as_str())
        .and_then(|rest| rest.strip_prefix('-'))
        .unwrap_or(name);
    name.strip_prefix("gcc-")
        .filter(|v| is_version(v))
        .map(str::to_owned)
}

fn names_in(dir: &Path) -> impl Iterator<Item = String> {
    std::fs::read_dir(dir)
        .into_iter()
        .flatten()
        .filter_map(|entry| entry.ok()?.file_name().into_string().ok())
}

/// GCC version directories are `12` since GCC 5, `4.9` before.
fn is_version(name: &str) -> bool {
    !name.is_empty()
        && name
            .split('.')
            .all(|part| !part.is_empty() && part.bytes().all(|b| b.is_ascii_digit()))
}

fn sorted_versions(versions: impl Iterator<Item = String>) -> Vec<String> {
    let key = |v: &String| -> Vec<u64> { v.split('.').filter_map(|p| p.parse().ok()).collect() };
    let mut versions: Vec<String> = versions.collect();
    versions.sort_by_key(key);
    versions.dedup();
    versions
}
