//! Driver manifests a loader reads (Vulkan's ICD JSON files, and libglvnd's EGL vendor files,
//! which share their shape), and the ones it cannot use.
//!
//! The Vulkan loader skips a manifest whose library is missing without a word, and one manifest
//! that is not valid JSON makes `vkCreateInstance` fail for every driver (loader 1.3.239 returns
//! `VK_ERROR_OUT_OF_HOST_MEMORY`; fixed in later loaders). Listing the manifests lets the
//! report name the bad ones, and lets the parent probe each driver alone (see
//! [`crate::supervise`]). [`Kind`] says how one runtime's files are named and recognised.

use std::ffi::CStr;
use std::fs;
use std::path::{Path, PathBuf};

/// Where the loader looks for driver manifests when `VK_DRIVER_FILES` is unset. Workers get no
/// `XDG_*` directories, so these are the loader's defaults, plus the per-user ones under `home`
/// (the worker's `HOME`: as root without `--trust-env`, never another user's).
fn default_dirs(home: Option<&Path>) -> Vec<PathBuf> {
    let mut dirs: Vec<PathBuf> = [
        "/etc/xdg/vulkan/icd.d",
        "/etc/vulkan/icd.d",
        "/usr/local/share/vulkan/icd.d",
        "/usr/share/vulkan/icd.d",
    ]
    .iter()
    .map(PathBuf::from)
    .collect();
    if let Some(home) = home {
        dirs.push(home.join(".config/vulkan/icd.d"));
        dirs.push(home.join(".local/share/vulkan/icd.d"));
    }
    dirs
}

/// The driver manifests the loader would read, given the worker's `VK_DRIVER_FILES` (or its
/// older name `VK_ICD_FILENAMES`), `VK_ADD_DRIVER_FILES` and `HOME`: each a colon-separated
/// list of manifest files or directories of them.
pub(crate) fn listed(
    driver_files: Option<&str>,
    add_driver_files: Option<&str>,
    home: Option<&Path>,
) -> Vec<PathBuf> {
    // A missing default directory is normal; a missing file the caller named is worth saying.
    let entries: Vec<PathBuf> = match driver_files.filter(|v| !v.is_empty()) {
        Some(files) => files.split(':').map(PathBuf::from).collect(),
        None => default_dirs(home)
            .into_iter()
            .filter(|d| d.is_dir())
            .collect(),
    };
    let added = add_driver_files
        .into_iter()
        .flat_map(|v| v.split(':'))
        .filter(|v| !v.is_empty())
        .map(PathBuf::from);
    let mut manifests = Vec::new();
    for entry in entries.into_iter().chain(added) {
        if entry.is_dir() {
            manifests.extend(files_with_extension(&entry, "json"));
        } else if !entry.as_os_str().is_empty() {
            manifests.push(entry);
        }
    }
    manifests
}

/// The manifests this worker's loader reads, from its environment.
pub(crate) fn listed_here() -> Vec<PathBuf> {
    let var = |name: &str| std::env::var(name).ok();
    let driver_files = var("VK_DRIVER_FILES").or_else(|| var("VK_ICD_FILENAMES"));
    let home = std::env::var_os("HOME").map(PathBuf::from);
    listed(
        driver_files.as_deref(),
        var("VK_ADD_DRIVER_FILES").as_deref(),
        home.as_deref(),
    )
}

/// A driver manifest whose library loaded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Driver {
    /// The manifest file.
    pub(crate) manifest: PathBuf,
    /// `ICD.library_path` as the manifest writes it.
    pub(crate) library: String,
    /// The file the dynamic loader mapped for it.
    pub(crate) loaded: Option<PathBuf>,
}

/// What a runtime's driver files are called and how their drivers are recognised, so that
/// Vulkan's manifests and libglvnd's EGL vendor files are judged by the same code.
#[derive(Debug)]
pub(crate) struct Kind {
    /// How a warning names one file: `Vulkan driver manifest`, `EGL vendor file`.
    pub(crate) label: &'static str,
    /// The entry points the driver libraries export, by which the loaded file is found.
    pub(crate) entry_points: &'static [&'static CStr],
    /// What a driver that loaded but made nothing is said to have done.
    pub(crate) made_nothing: &'static str,
    /// What is said when some of the runtime's devices could not be traced to a library.
    pub(crate) untraced: &'static str,
}

/// Vulkan's ICD manifests; the loader finds ICDs by these entry points, newest first.
pub(crate) const VULKAN: Kind = Kind {
    label: "Vulkan driver manifest",
    entry_points: &[c"vk_icdGetInstanceProcAddr", c"vkGetInstanceProcAddr"],
    made_nothing: "the driver loaded and reported no physical device",
    untraced: "no physical device could be traced to this driver",
};

/// Sorts the manifests into the drivers whose library loads and a warning for each manifest
/// the loader cannot use: unreadable, not JSON, naming no library, or naming a library that
/// cannot be loaded. Loading a driver library runs its initialisers, which `vkCreateInstance`
/// is about to do anyway in this worker; libraries that load stay loaded, so the loader's own
/// load is a no-op.
pub(crate) fn inspect(kind: &Kind, manifests: &[PathBuf]) -> (Vec<Driver>, Vec<String>) {
    let mut drivers = Vec::new();
    let mut warnings = Vec::new();
    for manifest in manifests {
        match problem_with(manifest) {
            Ok((library, path)) => {
                let loaded = kind
                    .entry_points
                    .iter()
                    .find_map(|entry| crate::backends::common::loaded_file(&path, entry));
                drivers.push(Driver {
                    manifest: manifest.clone(),
                    library,
                    loaded,
                });
            }
            Err(problem) => {
                warnings.push(format!("{} {} {problem}", kind.label, manifest.display()));
            }
        }
    }
    (drivers, warnings)
}

/// The most bytes read of one manifest; real ones are a few hundred.
const MAX_MANIFEST_BYTES: u64 = 64 << 10;

/// The library a manifest names, as written and as the loader resolves it, once it has been
/// loaded; or what is wrong with the manifest.
fn problem_with(manifest: &Path) -> Result<(String, PathBuf), String> {
    let text = crate::sys::read_regular_file(manifest, MAX_MANIFEST_BYTES)
        .map_err(|e| format!("cannot be read: {e}"))?;
    let json: serde_json::Value = serde_json::from_slice(&text)
        .map_err(|e| format!("is not valid JSON ({e}); this loader then fails for every driver"))?;
    let Some(library) = json.pointer("/ICD/library_path").and_then(|v| v.as_str()) else {
        return Err("names no ICD.library_path".to_owned());
    };
    // The loader resolves a relative path with a slash against the manifest's directory and a
    // bare name through the dynamic loader's search path.
    let path = if library.contains('/') && !library.starts_with('/') {
        manifest.parent().unwrap_or(Path::new("/")).join(library)
    } else {
        PathBuf::from(library)
    };
    match crate::backends::common::check_loadable(&path) {
        Ok(()) => Ok((library.to_owned(), path)),
        Err(e) => Err(format!("names {library:?}, which cannot be loaded: {e}")),
    }
}

/// What became of each loaded driver, as warnings: the ones the loader refused, with the
/// loader's own message (NVIDIA's ICD without a GPU: "Could not get 'vkCreateInstance' via
/// 'vk_icdGetInstanceProcAddr'"), and, when `device_drivers` says which library made each
/// device, the ones that gave no device. Loader errors about no driver in particular are
/// kept too. `device_drivers` is `None` when every driver is known to have given a device.
pub(crate) fn dropped(
    kind: &Kind,
    drivers: &[Driver],
    messages: &[String],
    device_drivers: Option<&[Option<PathBuf>]>,
) -> Vec<String> {
    let mentions = |driver: &Driver, message: &str| {
        message.contains(&driver.library)
            || message.contains(&*driver.manifest.to_string_lossy())
            || driver
                .loaded
                .as_ref()
                .is_some_and(|l| message.contains(&*l.to_string_lossy()))
    };
    let mut warnings = Vec::new();
    for driver in drivers {
        let name = format!(
            "{} {} ({})",
            kind.label,
            driver.manifest.display(),
            driver
                .loaded
                .as_ref()
                .map_or_else(|| driver.library.clone(), |l| l.display().to_string())
        );
        let said: Vec<&str> = messages
            .iter()
            .filter(|m| mentions(driver, m))
            .map(String::as_str)
            .collect();
        if !said.is_empty() {
            warnings.push(format!(
                "{name}: the loader refused it: {}",
                said.join("; ")
            ));
        } else if let Some(devices) = device_drivers {
            let gave_one = driver
                .loaded
                .as_ref()
                .is_some_and(|l| devices.iter().flatten().any(|d| d == l));
            if !gave_one {
                let traced = devices.iter().all(Option::is_some);
                let what = if traced {
                    kind.made_nothing
                } else {
                    kind.untraced
                };
                warnings.push(format!("{name}: {what}"));
            }
        }
    }
    warnings.extend(
        messages
            .iter()
            .filter(|m| m.starts_with("error:") && !drivers.iter().any(|d| mentions(d, m)))
            .map(|m| format!("{} loader {m}", kind.label.split(' ').next().unwrap_or(""))),
    );
    warnings
}

/// The files of `dir` whose name ends in `.ext`, sorted by path: how the loaders read a
/// directory of driver files (`*.json` manifests, `*.icd` files).
pub(crate) fn files_with_extension(dir: &Path, ext: &str) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = fs::read_dir(dir)
        .into_iter()
        .flatten()
        .filter_map(Result::ok)
        .map(|entry| entry.path())
        .filter(|p| p.extension().is_some_and(|e| e == ext))
        .collect();
    files.sort();
    files
}

#[cfg(test)]
mod tests {
    use super::*;

    fn driver(manifest: &str, library: &str, loaded: Option<&str>) -> Driver {
        Driver {
            manifest: PathBuf::from(manifest),
            library: library.to_owned(),
            loaded: loaded.map(PathBuf::from),
        }
    }

    #[test]
    fn refused_and_deviceless_drivers_are_named_with_the_loaders_words() {
        let nvidia = driver(
            "/usr/share/vulkan/icd.d/nvidia_icd.json",
            "libGLX_nvidia.so.0",
            Some("/usr/lib/x86_64-linux-gnu/nvidia/current/libGLX_nvidia.so.535.309.01"),
        );
        let lvp = driver(
            "/usr/share/vulkan/icd.d/lvp_icd.x86_64.json",
            "/usr/lib/x86_64-linux-gnu/libvulkan_lvp.so",
            Some("/usr/lib/x86_64-linux-gnu/libvulkan_lvp.so"),
        );
        let radeon = driver(
            "/usr/share/vulkan/icd.d/radeon_icd.x86_64.json",
            "/usr/lib/x86_64-linux-gnu/libvulkan_radeon.so",
            Some("/usr/lib/x86_64-linux-gnu/libvulkan_radeon.so"),
        );
        let messages = vec![
            "error: loader_scanned_icd_add: Could not get 'vkCreateInstance' via \
             'vk_icdGetInstanceProcAddr' for ICD libGLX_nvidia.so.0"
                .to_owned(),
            "warning: Implicit layer \"VK_LAYER_MESA_device_select\" forced disabled".to_owned(),
            "error: something about no driver".to_owned(),
        ];
        let drivers = [nvidia, lvp.clone(), radeon];
        let devices = [lvp.loaded.clone()];
        let warnings = dropped(&VULKAN, &drivers, &messages, Some(&devices));
        assert_eq!(warnings.len(), 3, "{warnings:#?}");
        assert!(warnings[0].starts_with(
            "Vulkan driver manifest /usr/share/vulkan/icd.d/nvidia_icd.json \
             (/usr/lib/x86_64-linux-gnu/nvidia/current/libGLX_nvidia.so.535.309.01): the loader \
             refused it: error: loader_scanned_icd_add: Could not get 'vkCreateInstance'"
        ));
        assert!(
            warnings[1].contains("radeon_icd.x86_64.json"),
            "{}",
            warnings[1]
        );
        assert!(warnings[1].ends_with("the driver loaded and reported no physical device"));
        assert_eq!(
            warnings[2],
            "Vulkan loader error: something about no driver"
        );

        // Every driver gave a device: only refusals are named, nothing is traced.
        assert_eq!(dropped(&VULKAN, &drivers, &messages[..1], None).len(), 1);
        // A device whose driver could not be traced makes the wording careful.
        let untraced = dropped(&VULKAN, &drivers[1..], &[], Some(&[None]));
        assert!(untraced
            .iter()
            .all(|w| w.ends_with("no physical device could be traced to this driver")));
    }

    fn scratch(name: &str) -> PathBuf {
        let dir =
            std::env::temp_dir().join(format!("hwspec-vk-manifests-{}-{name}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(&dir).unwrap();
        dir
    }

    #[test]
    fn listed_follows_the_loader_variables() {
        let dir = scratch("listed");
        fs::write(dir.join("b.json"), "{}").unwrap();
        fs::write(dir.join("a.json"), "{}").unwrap();
        fs::write(dir.join("readme.txt"), "").unwrap();
        let one = dir.join("a.json");
        let dir_str = dir.to_str().unwrap();
        assert_eq!(
            listed(Some(dir_str), None, None),
            [dir.join("a.json"), dir.join("b.json")]
        );
        let both = format!("{}:/nonexistent/x.json", one.display());
        assert_eq!(
            listed(Some(&both), None, None),
            [one.clone(), PathBuf::from("/nonexistent/x.json")]
        );
        let defaults = listed(
            None,
            Some(one.to_str().unwrap()),
            Some(Path::new("/home/u")),
        );
        assert_eq!(defaults.last(), Some(&one));
    }

    #[test]
    fn unusable_manifests_are_named_with_why() {
        let dir = scratch("unusable");
        let write = |name: &str, text: &str| {
            let path = dir.join(name);
            fs::write(&path, text).unwrap();
            path
        };
        let good = write("libc.json", r#"{"ICD": {"library_path": "libc.so.6"}}"#);
        let missing = write(
            "missing.json",
            r#"{"file_format_version": "1.0.0", "ICD": {"library_path": "libhwspec-no-such-vk.so"}}"#,
        );
        let broken = write("broken.json", "{ this is not json");
        let empty = write("empty.json", r#"{"ICD": {}}"#);
        let (drivers, warnings) = inspect(&VULKAN, &[good.clone(), missing, broken, empty]);
        assert_eq!(drivers.len(), 1);
        assert_eq!(drivers[0].manifest, good);
        assert_eq!(drivers[0].library, "libc.so.6");
        assert_eq!(
            drivers[0].loaded, None,
            "libc exports no ICD entry point to trace"
        );
        assert_eq!(warnings.len(), 3, "{warnings:?}");
        assert!(
            warnings[0].contains("missing.json") && warnings[0].contains("libhwspec-no-such-vk.so")
        );
        assert!(warnings[1].contains("broken.json") && warnings[1].contains("not valid JSON"));
        assert!(warnings[2].contains("empty.json") && warnings[2].contains("no ICD.library_path"));
    }
}
