//! The environment a worker gets (design §3, §7): what passes from the caller, what hwspec sets,
//! and what root withholds.
//!
//! Workers get only the variables that tell loaders and drivers where to look and which devices
//! to use, plus `PATH` (a default one when the caller has none: PoCL runs the linker through
//! it), `HOME`, `TMPDIR` and `XDG_RUNTIME_DIR`; everything else is dropped.
//!
//! As root, hwspec runs from dpkg and apt hooks, buildd daemons and `sudo -E`, on whatever
//! environment whoever called them left. Unless the caller says it trusts that environment
//! (`--trust-env`), nothing in it that a non-root user could have chosen reaches a worker:
//! no variable that makes a loader, runtime or driver load code or read manifests, and no
//! directory another user controls as `HOME` (where loaders find per-user manifests and
//! layers), `TMPDIR`, `XDG_RUNTIME_DIR` or entry of `PATH`. Each withheld name is listed in
//! the report. docs/reliability.md has the table.

use std::collections::BTreeMap;
use std::ffi::OsString;
use std::path::Path;

use crate::backends::{self, Variables};
use crate::driver_dirs::DRIVER_CACHE_ENV;

/// `PATH` for workers whose caller has none (`env -i`) and for every worker as root without
/// `--trust-env`: the system directories, as `login.defs` gives root.
pub(crate) const DEFAULT_PATH: &str =
    "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

/// The process basics passed to workers (as root without trust, replaced or withheld).
pub const PASSED_PLAIN: &[&str] = &["PATH", "HOME", "TMPDIR", "XDG_RUNTIME_DIR"];

/// The dynamic linker's prefix (`LD_PRELOAD`, `LD_AUDIT`, `LD_LIBRARY_PATH`): it loads every
/// runtime, so its variables pass to every worker, and as root are withheld like every other
/// loader's.
const LINKER_PREFIX: &str = "LD_";

/// Name prefixes of the variables passed to workers: every runtime's (see
/// [`loader_prefixes`] and [`runtime_prefixes`]).
pub fn passed_prefixes() -> Vec<&'static str> {
    let mut names = loader_prefixes();
    names.extend(runtime_prefixes());
    names
}

/// Prefixes of variables that make loaders and drivers load code or read manifests, as each
/// backend names them: the dynamic linker's `LD_PRELOAD`, `LD_AUDIT`, `LD_LIBRARY_PATH`;
/// Vulkan's driver and layer files; OpenCL ICDs and layers; Mesa's and libglvnd's driver and
/// vendor directories; GBM backends; ROCm's install root; Level Zero's alternate drivers and
/// layers; libva's drivers. Withheld as root unless trusted.
pub fn loader_prefixes() -> Vec<&'static str> {
    every_backends(&[LINKER_PREFIX], |v| v.loaders)
}

/// Prefixes of the runtimes' other variables (CUDA's, HIP's, ROCr's, HSA's), as each backend
/// names them: withheld as root only when a word of the name is one of [`CODE_WORDS`].
pub fn runtime_prefixes() -> Vec<&'static str> {
    let loaders = loader_prefixes();
    every_backends(&[], |v| v.runtime)
        .into_iter()
        .filter(|name| !loaders.contains(name))
        .collect()
}

/// Device selectors, as each backend names them: they choose among the devices a runtime finds
/// and load nothing, so they pass even as root (and the report shows them).
pub fn selectors() -> Vec<&'static str> {
    every_backends(&[], |v| v.selectors)
}

/// `first`, then the names `pick` takes from each backend's variables, in registry order and
/// each once.
fn every_backends(
    first: &[&'static str],
    pick: fn(&Variables) -> &'static [&'static str],
) -> Vec<&'static str> {
    let mut names = first.to_vec();
    for backend in backends::all() {
        for &name in pick(&backend.variables()) {
            if !names.contains(&name) {
                names.push(name);
            }
        }
    }
    names
}

/// Words that, in a CUDA, HIP, ROCr or HSA variable's name, mean its value names code, a tool or
/// a place to load from (`CUDA_INJECTION64_PATH`, `HSA_TOOLS_LIB`, `HIP_PATH`,
/// `HIP_DEVICE_LIB_PATH`, `CUDA_PATH`). Withheld as root unless trusted.
pub const CODE_WORDS: &[&str] = &[
    "PATH",
    "PATHS",
    "LIB",
    "LIBS",
    "LIBRARY",
    "TOOL",
    "TOOLS",
    "INJECTION",
    "INJECTION32",
    "INJECTION64",
    "PLUGIN",
    "PLUGINS",
    "LAYER",
    "LAYERS",
    "DIR",
    "DIRS",
    "FILE",
    "FILES",
    "PRELOAD",
    "ROOT",
    "HOME",
    "PREFIX",
];

/// The names that decide which variables pass, and which root withholds.
struct Lists {
    passed: Vec<&'static str>,
    loaders: Vec<&'static str>,
    selectors: Vec<&'static str>,
}

impl Lists {
    fn new() -> Lists {
        Lists {
            passed: passed_prefixes(),
            loaders: loader_prefixes(),
            selectors: selectors(),
        }
    }

    /// Whether root without `--trust-env` withholds the passed variable `name`.
    fn withheld_from_root(&self, name: &str) -> bool {
        if self.selectors.contains(&name) {
            return false;
        }
        if self.loaders.iter().any(|p| name.starts_with(p)) {
            return true;
        }
        name.split('_').any(|word| CODE_WORDS.contains(&word))
    }
}

/// Judges paths as [`RootJudge::controls`] says, looking at each directory above them (`/`,
/// `/usr`, `/root`, ...) once, which keeps a long `PATH` cheap.
#[derive(Default)]
struct RootJudge {
    /// Whether a directory above a judged path is safe there: owned by root or this user, and
    /// writable by no one else unless sticky.
    above: std::collections::HashMap<std::path::PathBuf, bool>,
}

impl RootJudge {
    /// Whether no user but root (and this process's own user) can change what is found at
    /// `path`: the path and every directory above it (after symlinks) are owned by one of them
    /// and not writable by others, except that a directory above it may be sticky (`/tmp`:
    /// nobody else can rename or remove what root made there), and `path` itself too when
    /// `sticky_ok`. A path that does not exist is judged by the nearest directory above it that
    /// does: only whoever controls that can create it. A relative path (which depends on the
    /// working directory) never passes.
    fn controls(&mut self, path: &Path, sticky_ok: bool) -> bool {
        use std::os::unix::fs::MetadataExt;
        if !path.is_absolute() {
            return false;
        }
        let mut existing = path;
        let real = loop {
            match std::fs::canonicalize(existing) {
                Ok(real) => break real,
                Err(_) => match existing.parent() {
                    Some(parent) => existing = parent,
                    None => return false,
                },
            }
        };
        let me = crate::sys::effective_uid();
        let safe = |dir: &Path, sticky_ok: bool| {
            std::fs::metadata(dir).is_ok_and(|m| {
                let owner_ok = m.uid() == 0 || m.uid() == me;
                let sticky = m.mode() & 0o1000 != 0;
                owner_ok && (m.mode() & 0o022 == 0 || (sticky && sticky_ok))
            })
        };
        let leaf = existing == path;
        let mut dirs = real.ancestors();
        if leaf && !dirs.next().is_some_and(|dir| safe(dir, sticky_ok)) {
            return false;
        }
        dirs.all(|dir| {
            *self
                .above
                .entry(dir.to_owned())
                .or_insert_with(|| safe(dir, true))
        })
    }
}

/// What the caller's environment may do to workers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Trust {
    /// Not root, or root with `--trust-env`: runtime variables pass.
    Caller,
    /// Root without `--trust-env`: see the module documentation.
    RootOnly,
}

impl Trust {
    /// The trust for this process: [`Trust::RootOnly`] as root unless `trust_env`.
    pub(crate) fn for_this_process(trust_env: bool) -> Trust {
        if crate::sys::is_root() && !trust_env {
            Trust::RootOnly
        } else {
            Trust::Caller
        }
    }
}

/// Where hwspec keeps driver caches for one probe, and the home it gives workers as root.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Places<'a> {
    /// The driver-cache directory, when one is usable.
    pub(crate) driver_cache: Option<&'a Path>,
    /// A private, empty home directory for workers as root without trust, made (mode 0700)
    /// when it is needed.
    pub(crate) root_home: Option<&'a Path>,
}

/// The environment every worker gets.
#[derive(Debug, Clone)]
pub(crate) struct WorkerEnvironment {
    pub(crate) vars: Vec<(OsString, OsString)>,
    /// The variables that change what runtimes do, as shown in the report.
    pub(crate) reported: BTreeMap<String, String>,
    /// The caller's variables withheld from the workers, by name.
    pub(crate) dropped: Vec<String>,
}

impl WorkerEnvironment {
    /// The workers' environment made from the caller's `current` one under `trust`, with
    /// hwspec's own cache, home and layer settings added.
    pub(crate) fn from_vars(
        current: impl Iterator<Item = (OsString, OsString)>,
        places: Places<'_>,
        trust: Trust,
    ) -> WorkerEnvironment {
        let mut vars = BTreeMap::new();
        let mut dropped = Vec::new();
        let mut judge = RootJudge::default();
        let lists = Lists::new();
        for (key, value) in current {
            let Some(name) = key.to_str() else { continue };
            let plain = PASSED_PLAIN.contains(&name);
            let passed = plain || lists.passed.iter().any(|p| name.starts_with(p));
            let untrusted = trust == Trust::RootOnly;
            if !untrusted {
                if passed {
                    vars.insert(name.to_owned(), value);
                }
            } else if name == "PATH" {
                // Only directories no other user can write to; the default when none is left.
                let kept: Vec<&str> = value
                    .to_str()
                    .unwrap_or_default()
                    .split(':')
                    .filter(|dir| judge.controls(Path::new(dir), false))
                    .collect();
                if kept.join(":").as_str() != value {
                    dropped.push(name.to_owned());
                }
                if !kept.is_empty() {
                    vars.insert(name.to_owned(), kept.join(":").into());
                }
            } else if name.starts_with("XDG_") || plain {
                // A home, configuration, data, runtime or temp directory: kept only when no
                // other user controls it; hwspec's own home stands in for a foreign `HOME`.
                let sticky_ok = name == "TMPDIR";
                let all_roots = value.to_str().is_some_and(|v| {
                    v.split(':')
                        .all(|d| judge.controls(Path::new(d), sticky_ok))
                });
                if !all_roots {
                    dropped.push(name.to_owned());
                } else if passed {
                    vars.insert(name.to_owned(), value);
                }
            } else if !passed {
                continue;
            } else if lists.withheld_from_root(name) {
                dropped.push(name.to_owned());
            } else {
                vars.insert(name.to_owned(), value);
            }
        }
        dropped.sort();
        dropped.dedup();
        let no_path = vars.get("PATH").is_none_or(|p| p.is_empty());
        let no_home = !vars.contains_key("HOME");
        let mut set = |k: &str, v: OsString| {
            vars.insert(k.to_owned(), v);
        };
        if no_path {
            set("PATH", DEFAULT_PATH.into());
        }
        if let (Trust::RootOnly, true, Some(home)) = (trust, no_home, places.root_home) {
            if crate::files::ensure_private_dir(home).is_ok() {
                set("HOME", home.as_os_str().to_owned());
            }
        }
        if let Some(dir) = places.driver_cache {
            set("POCL_CACHE_DIR", dir.join("pocl").into_os_string());
            set("MESA_SHADER_CACHE_DIR", dir.join("mesa").into_os_string());
            set("MESA_GLSL_CACHE_DIR", dir.join("mesa").into_os_string());
            set("CUDA_CACHE_PATH", dir.join("cuda").into_os_string());
            set("XDG_CACHE_HOME", dir.as_os_str().to_owned());
            set(DRIVER_CACHE_ENV, dir.as_os_str().to_owned());
        }
        set("LC_ALL", "C".into());
        // Implicit layers (overlays, capture tools) are not part of the device and are a known
        // source of crashes and hangs in headless processes.
        let layers_chosen = ["VK_LOADER_LAYERS_DISABLE", "VK_LOADER_LAYERS_ENABLE"]
            .iter()
            .any(|k| vars.contains_key(*k));
        if !layers_chosen {
            vars.insert("VK_LOADER_LAYERS_DISABLE".to_owned(), "~implicit~".into());
        }
        let reported = vars
            .iter()
            .filter(|(k, _)| !PASSED_PLAIN.contains(&k.as_str()) && k.as_str() != "LC_ALL")
            .map(|(k, v)| (k.clone(), v.to_string_lossy().into_owned()))
            .collect();
        WorkerEnvironment {
            vars: vars.into_iter().map(|(k, v)| (k.into(), v)).collect(),
            reported,
            dropped,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env_with(pairs: &[(&str, &str)], places: Places<'_>, trust: Trust) -> WorkerEnvironment {
        let vars = pairs
            .iter()
            .map(|(k, v)| (OsString::from(k), OsString::from(v)))
            .collect::<Vec<_>>();
        WorkerEnvironment::from_vars(vars.into_iter(), places, trust)
    }

    fn cache(dir: &str) -> Places<'_> {
        Places {
            driver_cache: Some(Path::new(dir)),
            root_home: None,
        }
    }

    fn get<'a>(env: &'a WorkerEnvironment, key: &str) -> Option<&'a str> {
        env.vars
            .iter()
            .find(|(k, _)| k == key)
            .and_then(|(_, v)| v.to_str())
    }

    #[test]
    fn untrusted_loader_variables_are_dropped_and_named() {
        let env = env_with(
            &[
                ("LD_PRELOAD", "/tmp/evil.so"),
                ("LD_LIBRARY_PATH", "/tmp"),
                ("LD_AUDIT", "/tmp/audit.so"),
                ("OCL_ICD_VENDORS", "/tmp/v"),
                ("VK_DRIVER_FILES", "/tmp/x.json"),
                ("VK_ADD_LAYER_PATH", "/tmp/layers"),
                ("ZE_ENABLE_ALT_DRIVERS", "/tmp/z.so"),
                ("CUDA_INJECTION64_PATH", "/tmp/inject.so"),
                ("HSA_TOOLS_LIB", "/tmp/tool.so"),
                ("HIP_PATH", "/tmp/hip"),
                ("ROCM_PATH", "/tmp/rocm"),
                ("GBM_BACKENDS_PATH", "/tmp/gbm"),
                ("LIBVA_DRIVERS_PATH", "/tmp/va"),
                ("__EGL_VENDOR_LIBRARY_DIRS", "/tmp/egl"),
                ("MESA_LOADER_DRIVER_OVERRIDE", "evil"),
                ("CUDA_VISIBLE_DEVICES", "0"),
                ("ZE_AFFINITY_MASK", "0"),
                ("PATH", "/usr/bin"),
            ],
            cache("/c"),
            Trust::RootOnly,
        );
        assert_eq!(
            env.dropped,
            [
                "CUDA_INJECTION64_PATH",
                "GBM_BACKENDS_PATH",
                "HIP_PATH",
                "HSA_TOOLS_LIB",
                "LD_AUDIT",
                "LD_LIBRARY_PATH",
                "LD_PRELOAD",
                "LIBVA_DRIVERS_PATH",
                "MESA_LOADER_DRIVER_OVERRIDE",
                "OCL_ICD_VENDORS",
                "ROCM_PATH",
                "VK_ADD_LAYER_PATH",
                "VK_DRIVER_FILES",
                "ZE_ENABLE_ALT_DRIVERS",
                "__EGL_VENDOR_LIBRARY_DIRS",
            ]
        );
        for gone in &env.dropped {
            assert!(get(&env, gone).is_none(), "{gone}");
        }
        // Device selection is not code loading, and hwspec's own settings still apply.
        assert_eq!(get(&env, "CUDA_VISIBLE_DEVICES"), Some("0"));
        assert_eq!(get(&env, "ZE_AFFINITY_MASK"), Some("0"));
        assert_eq!(get(&env, "PATH"), Some("/usr/bin"));
        assert_eq!(get(&env, "POCL_CACHE_DIR"), Some("/c/pocl"));
        assert_eq!(get(&env, "VK_LOADER_LAYERS_DISABLE"), Some("~implicit~"));
    }

    /// A directory any user may write to, as another user's home or temp dir would be.
    fn open_to_all(tmp: &crate::testing::TempDir, name: &str) -> String {
        use std::os::unix::fs::PermissionsExt;
        let dir = tmp.path().join(name);
        std::fs::create_dir(&dir).unwrap();
        std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o777)).unwrap();
        dir.to_str().unwrap().to_owned()
    }

    #[test]
    fn root_gets_no_home_tmpdir_xdg_or_path_entry_another_user_controls() {
        let tmp = crate::testing::TempDir::new("env-root-dirs");
        let user = open_to_all(&tmp, "home-u");
        let home = tmp.path().join("root-home");
        let places = Places {
            driver_cache: Some(Path::new("/c")),
            root_home: Some(&home),
        };
        let env = env_with(
            &[
                ("HOME", &user),
                ("TMPDIR", &format!("{user}/tmp")),
                ("XDG_RUNTIME_DIR", &user),
                ("XDG_CONFIG_HOME", &format!("{user}/.config")),
                ("XDG_DATA_DIRS", &format!("/usr/share:{user}/share")),
                ("XDG_CONFIG_DIRS", "/etc/xdg"),
                ("PATH", &format!("{user}/bin:/usr/bin:relative:/bin")),
            ],
            places,
            Trust::RootOnly,
        );
        assert_eq!(
            env.dropped,
            [
                "HOME",
                "PATH",
                "TMPDIR",
                "XDG_CONFIG_HOME",
                "XDG_DATA_DIRS",
                "XDG_RUNTIME_DIR"
            ]
        );
        assert_eq!(get(&env, "HOME"), home.to_str());
        let mode = std::os::unix::fs::PermissionsExt::mode(
            &std::fs::metadata(&home).unwrap().permissions(),
        );
        assert_eq!(mode & 0o777, 0o700, "made private when needed");
        assert_eq!(get(&env, "TMPDIR"), None);
        assert_eq!(get(&env, "XDG_RUNTIME_DIR"), None);
        assert_eq!(get(&env, "XDG_CACHE_HOME"), Some("/c"));
        assert_eq!(get(&env, "PATH"), Some("/usr/bin:/bin"));
        // Root's own directories pass, and are not worth a mention.
        let own = env_with(
            &[
                ("HOME", "/root"),
                ("TMPDIR", "/tmp"),
                ("PATH", DEFAULT_PATH),
            ],
            places,
            Trust::RootOnly,
        );
        assert!(own.dropped.is_empty(), "{:?}", own.dropped);
        assert_eq!(get(&own, "HOME"), Some("/root"));
        assert_eq!(get(&own, "TMPDIR"), Some("/tmp"));
        // Trusted, the same caller keeps its home.
        let trusted = env_with(&[("HOME", &user)], places, Trust::Caller);
        assert_eq!(get(&trusted, "HOME"), Some(user.as_str()));
        assert!(trusted.dropped.is_empty());
    }

    fn only_root_controls(path: &Path, sticky_ok: bool) -> bool {
        RootJudge::default().controls(path, sticky_ok)
    }

    #[test]
    fn only_directories_no_other_user_can_change_count_as_roots() {
        let tmp = crate::testing::TempDir::new("env-root-controls");
        let open = open_to_all(&tmp, "open");
        let own = tmp.path().join("own");
        std::fs::create_dir(&own).unwrap();
        assert!(only_root_controls(Path::new("/usr/bin"), false));
        assert!(only_root_controls(Path::new("/nonexistent/home"), false));
        assert!(only_root_controls(&own, false), "below the sticky /tmp");
        assert!(only_root_controls(&own.join("missing/deeper"), false));
        assert!(!only_root_controls(Path::new(&open), false));
        assert!(!only_root_controls(
            &Path::new(&open).join("missing"),
            false
        ));
        assert!(!only_root_controls(Path::new("relative/bin"), false));
        assert!(!only_root_controls(Path::new(""), false));
        // /tmp itself: anyone may create entries there, fine for TMPDIR only.
        let tmp_root = std::env::temp_dir();
        if tmp_root == Path::new("/tmp") {
            assert!(!only_root_controls(&tmp_root, false));
            assert!(only_root_controls(&tmp_root, true));
        }
        // A symlink is judged by where it leads.
        let link = tmp.path().join("link");
        std::os::unix::fs::symlink(&open, &link).unwrap();
        assert!(!only_root_controls(&link, false));
    }

    #[test]
    fn the_worker_environment_keeps_runtime_variables_and_drops_the_rest() {
        let env = env_with(
            &[
                ("PATH", "/usr/bin"),
                ("OCL_ICD_VENDORS", "/tmp/v"),
                ("VK_DRIVER_FILES", "/x.json"),
                ("CUDA_VISIBLE_DEVICES", "0"),
                ("SECRET_TOKEN", "x"),
                ("PYTHONPATH", "/p"),
                ("XDG_CONFIG_HOME", "/home/u/.config"),
            ],
            cache("/c"),
            Trust::Caller,
        );
        assert_eq!(get(&env, "PATH"), Some("/usr/bin"));
        assert_eq!(get(&env, "OCL_ICD_VENDORS"), Some("/tmp/v"));
        assert!(get(&env, "SECRET_TOKEN").is_none());
        assert!(get(&env, "PYTHONPATH").is_none());
        assert!(get(&env, "XDG_CONFIG_HOME").is_none());
        assert_eq!(get(&env, "POCL_CACHE_DIR"), Some("/c/pocl"));
        assert_eq!(get(&env, DRIVER_CACHE_ENV), Some("/c"));
        assert_eq!(get(&env, "VK_LOADER_LAYERS_DISABLE"), Some("~implicit~"));
        assert_eq!(env.reported["CUDA_VISIBLE_DEVICES"], "0");
        assert!(!env.reported.contains_key("PATH"));
        assert!(env.dropped.is_empty());
    }

    #[test]
    fn a_caller_without_path_gives_workers_the_default() {
        for pairs in [&[][..], &[("PATH", "")][..]] {
            let env = env_with(pairs, Places::default(), Trust::Caller);
            assert_eq!(get(&env, "PATH"), Some(DEFAULT_PATH));
        }
    }

    #[test]
    fn the_driver_cache_always_wins_over_the_callers() {
        let env = env_with(
            &[("POCL_CACHE_DIR", "/read-only")],
            cache("/c"),
            Trust::Caller,
        );
        assert_eq!(get(&env, "POCL_CACHE_DIR"), Some("/c/pocl"));
    }

    #[test]
    fn the_policy_lists_are_every_backends_variables_once() {
        let (passed, loaders, runtime) = (passed_prefixes(), loader_prefixes(), runtime_prefixes());
        assert_eq!(passed.len(), loaders.len() + runtime.len());
        for list in [&passed, &selectors()] {
            let mut unique = list.clone();
            unique.sort();
            unique.dedup();
            assert_eq!(unique.len(), list.len(), "{list:?}");
        }
        assert!(loaders.contains(&LINKER_PREFIX));
        for &backend in crate::model::BackendName::ALL {
            let v = backends::get(backend).variables();
            for name in v.loaders.iter().chain(v.runtime) {
                assert!(passed.contains(name), "{name} of {backend}");
            }
            for name in v.loaders {
                assert!(loaders.contains(name), "{name}");
            }
        }
        // A selector passes as root only because it is one: each is a runtime's variable.
        for selector in selectors() {
            assert!(passed.iter().any(|p| selector.starts_with(p)), "{selector}");
        }
    }

    #[test]
    fn an_explicit_layer_choice_is_respected() {
        let env = env_with(
            &[("VK_LOADER_LAYERS_ENABLE", "*validation")],
            Places::default(),
            Trust::Caller,
        );
        assert!(get(&env, "VK_LOADER_LAYERS_DISABLE").is_none());
    }
}
