//! The Vulkan driver manifests (ICD JSON files) the loader reads, and the ones it cannot use.
//!
//! The loader skips a manifest whose library is missing without a word, and one manifest that
//! is not valid JSON makes `vkCreateInstance` fail for every driver (loader 1.3.239 returns
//! `VK_ERROR_OUT_OF_HOST_MEMORY`; fixed in later loaders). Listing the manifests lets the
//! report name the bad ones, and lets the parent probe each driver alone (see
//! [`crate::isolate`]).

use std::fs;
use std::path::{Path, PathBuf};

/// Largest manifest read: they are a few lines of JSON.
const MANIFEST_BYTES: u64 = 1 << 20;

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
            let mut jsons: Vec<PathBuf> = fs::read_dir(&entry)
                .into_iter()
                .flatten()
                .filter_map(Result::ok)
                .map(|e| e.path())
                .filter(|p| p.extension().is_some_and(|e| e == "json"))
                .collect();
            jsons.sort();
            manifests.extend(jsons);
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

/// A warning for each manifest the loader cannot use: unreadable, not JSON, naming no library,
/// or naming a library that cannot be loaded. Loading a driver library runs its initialisers,
/// which `vkCreateInstance` is about to do anyway in this worker; libraries that load stay
/// loaded, so the loader's own load is a no-op.
pub(crate) fn unusable(manifests: &[PathBuf]) -> Vec<String> {
    manifests
        .iter()
        .filter_map(|manifest| {
            let problem = problem_with(manifest)?;
            Some(format!(
                "Vulkan driver manifest {} {problem}",
                manifest.display()
            ))
        })
        .collect()
}

fn problem_with(manifest: &Path) -> Option<String> {
    let text = match crate::sys::read_regular_file(manifest, MANIFEST_BYTES) {
        Ok(text) => text,
        Err(e) => return Some(format!("cannot be read: {e}")),
    };
    let json: serde_json::Value = match serde_json::from_slice(&text) {
        Ok(json) => json,
        Err(e) => {
            return Some(format!(
                "is not valid JSON ({e}); this loader then fails for every driver"
            ))
        }
    };
    let Some(library) = json.pointer("/ICD/library_path").and_then(|v| v.as_str()) else {
        return Some("names no ICD.library_path".to_owned());
    };
    // The loader resolves a relative path with a slash against the manifest's directory and a
    // bare name through the dynamic loader's search path.
    let path = if library.contains('/') && !library.starts_with('/') {
        manifest.parent().unwrap_or(Path::new("/")).join(library)
    } else {
        PathBuf::from(library)
    };
    super::api::check_loadable(&path)
        .err()
        .map(|e| format!("names {library:?}, which cannot be loaded: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;

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
        let warnings = unusable(&[good, missing, broken, empty]);
        assert_eq!(warnings.len(), 3, "{warnings:?}");
        assert!(
            warnings[0].contains("missing.json") && warnings[0].contains("libhwspec-no-such-vk.so")
        );
        assert!(warnings[1].contains("broken.json") && warnings[1].contains("not valid JSON"));
        assert!(warnings[2].contains("empty.json") && warnings[2].contains("no ICD.library_path"));
    }
}
