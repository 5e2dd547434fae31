//! libglvnd's EGL vendor files: which vendor libraries it loads, and which of them gave no
//! display. libglvnd drops a vendor whose library does not load, and a vendor without a device
//! (NVIDIA's EGL on a machine without its GPU) simply adds nothing; both are named in the
//! report, judged by the same code as Vulkan's driver manifests.

use std::path::PathBuf;

use crate::backends::common::driver_files::Kind;

/// EGL vendor files; libglvnd calls `__egl_Main` in each vendor library.
pub(super) const EGL_VENDORS: Kind = Kind {
    label: "EGL vendor file",
    entry_points: &[c"__egl_Main"],
    made_nothing: "the vendor library loaded and gave no display",
    untraced: "no display could be traced to this vendor",
};

/// Where libglvnd looks when neither variable names files or directories (its configured
/// sysconfdir and datadir on Debian).
const DEFAULT_DIRS: &[&str] = &["/etc/glvnd/egl_vendor.d", "/usr/share/glvnd/egl_vendor.d"];

/// The vendor files libglvnd reads, given `__EGL_VENDOR_LIBRARY_FILENAMES` (files, in order)
/// or else `__EGL_VENDOR_LIBRARY_DIRS` (directories whose `.json` files are read sorted by
/// name across all of them).
pub(super) fn listed(filenames: Option<&str>, dirs: Option<&str>) -> Vec<PathBuf> {
    if let Some(files) = filenames.filter(|v| !v.is_empty()) {
        return files
            .split(':')
            .filter(|f| !f.is_empty())
            .map(PathBuf::from)
            .collect();
    }
    let dirs: Vec<&str> = match dirs.filter(|v| !v.is_empty()) {
        Some(dirs) => dirs.split(':').collect(),
        None => DEFAULT_DIRS.to_vec(),
    };
    let mut files: Vec<PathBuf> = dirs
        .iter()
        .flat_map(|dir| std::fs::read_dir(dir).into_iter().flatten())
        .filter_map(Result::ok)
        .map(|entry| entry.path())
        .filter(|p| p.extension().is_some_and(|e| e == "json"))
        .collect();
    files.sort_by(|a, b| a.file_name().cmp(&b.file_name()));
    files
}

/// The vendor files of this worker's environment.
pub(super) fn listed_here() -> Vec<PathBuf> {
    let var = |name: &str| std::env::var(name).ok();
    listed(
        var("__EGL_VENDOR_LIBRARY_FILENAMES").as_deref(),
        var("__EGL_VENDOR_LIBRARY_DIRS").as_deref(),
    )
}
