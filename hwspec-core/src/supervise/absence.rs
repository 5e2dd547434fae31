//! Deciding, without a worker, that a backend's runtime is not installed.
//!
//! A worker for a runtime that is not installed costs a process start and its guard (about
//! 3 ms CPU here) to learn what the dynamic loader answers from a few files: its cache and the
//! system library directories. When the loader provably cannot find any of the libraries a
//! backend opens first, the parent writes the backend's `absent` report itself and starts no
//! worker. Nothing is loaded or run to decide it: the files are only looked at.
//!
//! The decision is one-sided. "Not found" needs every one of these to hold, and anything this
//! module does not model means "maybe", and the worker runs as before:
//! - the platform is x86-64 with glibc (whose search this follows: `ld.so.cache`, then the
//!   system directories with their `glibc-hwcaps` and legacy hwcaps subdirectories);
//! - the worker gets no `LD_LIBRARY_PATH`, `LD_PRELOAD` or `LD_AUDIT`, and there is no
//!   `/etc/ld.so.preload` (directories another user controls are never looked into, and a
//!   preloaded library could carry the soname);
//! - the worker program has no `DT_RPATH` or `DT_RUNPATH`;
//! - an absolute name is not there (`lstat` says it does not exist);
//! - a soname is not in `ld.so.cache` (its bytes appear nowhere in the file) and no file of
//!   that name is in any directory the loader would try.
//!
//! A library installed later changes `ld.so.cache` (ldconfig runs in every package that ships
//! one), which the report cache's fingerprint watches.

use std::ffi::OsString;
use std::io::{self, Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};

use crate::sys::{self, BoundedReadError};

/// Largest `ld.so.cache` read; a cache larger than this means "maybe". Debian's lists a few
/// thousand libraries in well under a megabyte.
const MAX_CACHE_BYTES: u64 = 4 << 20;

/// The files and directories the dynamic loader consults, as this module reads them.
#[derive(Debug, Clone)]
pub(crate) struct LoaderFiles {
    /// `/etc/ld.so.cache`.
    pub(crate) cache: PathBuf,
    /// `/etc/ld.so.preload`.
    pub(crate) preload: PathBuf,
    /// The system search path, in the loader's order.
    pub(crate) system_dirs: Vec<PathBuf>,
}

impl LoaderFiles {
    /// The files of this system, when its loader is one this module follows.
    pub(crate) fn of_this_system() -> Option<LoaderFiles> {
        if !cfg!(all(
            target_arch = "x86_64",
            target_os = "linux",
            target_env = "gnu"
        )) {
            return None;
        }
        Some(LoaderFiles {
            cache: PathBuf::from("/etc/ld.so.cache"),
            preload: PathBuf::from("/etc/ld.so.preload"),
            // glibc's system search path on Debian's x86-64 (`LD_DEBUG=libs` prints it).
            system_dirs: [
                "/lib/x86_64-linux-gnu",
                "/usr/lib/x86_64-linux-gnu",
                "/lib",
                "/usr/lib",
            ]
            .into_iter()
            .map(PathBuf::from)
            .collect(),
        })
    }
}

/// What the dynamic loader of a worker would search, read once per probe: the names in its
/// cache and the directories it tries, in its order.
#[derive(Debug)]
pub(crate) struct WorkerLoader {
    cache_path: PathBuf,
    cache: Vec<u8>,
    dirs: Vec<PathBuf>,
}

impl WorkerLoader {
    /// The loader of a worker started as `program` with environment `env`; `None` when it
    /// could look anywhere this module does not follow (then a worker must find out).
    pub(crate) fn of(
        env: &[(OsString, OsString)],
        program: &Path,
        files: &LoaderFiles,
    ) -> Option<WorkerLoader> {
        let set = |name: &str| env.iter().any(|(k, _)| k == name);
        if set("LD_LIBRARY_PATH") || set("LD_PRELOAD") || set("LD_AUDIT") {
            return None;
        }
        if !surely_missing(&files.preload) || !has_no_search_path(program)? {
            return None;
        }
        Some(WorkerLoader {
            cache_path: files.cache.clone(),
            cache: read_cache(&files.cache)?,
            dirs: files
                .system_dirs
                .iter()
                .flat_map(|dir| candidate_dirs(dir))
                .collect(),
        })
    }

    /// Why none of `libraries` can be found, one clause per library; `None` when one of them
    /// might be.
    pub(crate) fn none_findable(&self, libraries: &[&str]) -> Option<String> {
        if libraries.is_empty() {
            return None;
        }
        let mut clauses = Vec::new();
        for &library in libraries {
            if library.contains('/') {
                if !Path::new(library).is_absolute() || !surely_missing(Path::new(library)) {
                    return None;
                }
                clauses.push(format!("{library}: no such file"));
                continue;
            }
            if library.is_empty()
                || contains(&self.cache, library.as_bytes())
                || self
                    .dirs
                    .iter()
                    .any(|dir| !surely_missing(&dir.join(library)))
            {
                return None;
            }
            clauses.push(format!(
                "{library}: in neither {} nor the system library directories",
                self.cache_path.display()
            ));
        }
        Some(clauses.join("; "))
    }
}

/// Whether `path` certainly does not exist: `lstat` fails with "no such file" (or a
/// component is not a directory). Any other answer, an unreadable directory included, is
/// "maybe".
fn surely_missing(path: &Path) -> bool {
    match std::fs::symlink_metadata(path) {
        Ok(_) => false,
        Err(error) => {
            error.kind() == io::ErrorKind::NotFound || error.raw_os_error() == Some(libc::ENOTDIR)
        }
    }
}

/// The contents of the loader's cache, or empty when there is none; `None` (maybe) when it
/// cannot be read or is implausibly large.
fn read_cache(path: &Path) -> Option<Vec<u8>> {
    match sys::read_regular_file(path, MAX_CACHE_BYTES) {
        Ok(bytes) => Some(bytes),
        Err(BoundedReadError::Io(error)) if error.kind() == io::ErrorKind::NotFound => {
            Some(Vec::new())
        }
        Err(_) => None,
    }
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

/// The directories under `dir` the loader tries, in its order: the `glibc-hwcaps`
/// subdirectories, the legacy hwcaps ones (`tls`, the platform, `avx512_1`, `x86_64`, each
/// optional, in that order), then `dir` itself. Only those whose first component exists are
/// listed, as the loader prunes the others when it starts.
fn candidate_dirs(dir: &Path) -> Vec<PathBuf> {
    let exists = |sub: &str| !surely_missing(&dir.join(sub));
    let mut dirs: Vec<PathBuf> = Vec::new();
    if exists("glibc-hwcaps") {
        for level in ["x86-64-v4", "x86-64-v3", "x86-64-v2"] {
            dirs.push(dir.join("glibc-hwcaps").join(level));
        }
    }
    let legacy = ["tls", "haswell", "xeon_phi", "avx512_1", "x86_64"];
    if legacy.iter().any(|sub| exists(sub)) {
        for tls in [None, Some("tls")] {
            for platform in [None, Some("haswell"), Some("xeon_phi")] {
                for avx in [None, Some("avx512_1")] {
                    for x86 in [None, Some("x86_64")] {
                        let parts: Vec<&str> =
                            [tls, platform, avx, x86].into_iter().flatten().collect();
                        if !parts.is_empty() {
                            dirs.push(parts.iter().fold(dir.to_path_buf(), |p, s| p.join(s)));
                        }
                    }
                }
            }
        }
    }
    dirs.push(dir.to_path_buf());
    dirs
}

/// Whether the ELF program at `path` names no library search path of its own (`DT_RPATH`,
/// `DT_RUNPATH`); `None` when that cannot be told (not a little-endian 64-bit ELF file, or
/// unreadable), which means "maybe".
fn has_no_search_path(path: &Path) -> Option<bool> {
    const PT_DYNAMIC: u32 = 2;
    const DT_NULL: u64 = 0;
    const DT_RPATH: u64 = 15;
    const DT_RUNPATH: u64 = 29;
    const MAX_HEADERS: u64 = 256;
    const MAX_HEADER_BYTES: u64 = 256;
    const MAX_DYNAMIC_BYTES: u64 = 1 << 20;
    // Opened only when it is a regular file: never blocks, never opens a device.
    let mut file = sys::open_regular_file(path).ok()?;
    let mut header = [0u8; 64];
    file.read_exact(&mut header).ok()?;
    // Magic, 64-bit, little-endian.
    if header[..4] != *b"\x7fELF" || header[4] != 2 || header[5] != 1 {
        return None;
    }
    let u16_at = |b: &[u8], at: usize| b.get(at..at + 2).map(|s| u16::from_le_bytes([s[0], s[1]]));
    let u32_at = |b: &[u8], at: usize| {
        b.get(at..at + 4)
            .and_then(|s| s.try_into().ok())
            .map(u32::from_le_bytes)
    };
    let u64_at = |b: &[u8], at: usize| {
        b.get(at..at + 8)
            .and_then(|s| s.try_into().ok())
            .map(u64::from_le_bytes)
    };
    let phoff = u64_at(&header, 0x20)?;
    let phentsize = u64::from(u16_at(&header, 0x36)?);
    let phnum = u64::from(u16_at(&header, 0x38)?);
    if !(56..=MAX_HEADER_BYTES).contains(&phentsize) || phnum > MAX_HEADERS {
        return None;
    }
    let mut headers = vec![0u8; usize::try_from(phentsize * phnum).ok()?];
    file.seek(SeekFrom::Start(phoff)).ok()?;
    file.read_exact(&mut headers).ok()?;
    let Some(dynamic) = headers
        .chunks(usize::try_from(phentsize).ok()?)
        .find(|h| u32_at(h, 0) == Some(PT_DYNAMIC))
    else {
        // A static program loads nothing through a search path of its own.
        return Some(true);
    };
    let offset = u64_at(dynamic, 0x08)?;
    let size = u64_at(dynamic, 0x20)?;
    if size > MAX_DYNAMIC_BYTES {
        return None;
    }
    let mut entries = vec![0u8; usize::try_from(size).ok()?];
    file.seek(SeekFrom::Start(offset)).ok()?;
    file.read_exact(&mut entries).ok()?;
    for entry in entries.chunks_exact(16) {
        match u64_at(entry, 0)? {
            DT_NULL => break,
            DT_RPATH | DT_RUNPATH => return Some(false),
            _ => {}
        }
    }
    Some(true)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::TempDir;

    /// A loader layout inside `root`: its cache, preload file and two system directories.
    fn layout(root: &Path) -> LoaderFiles {
        let lib = root.join("lib");
        let usr = root.join("usr-lib");
        std::fs::create_dir_all(&lib).unwrap();
        std::fs::create_dir_all(&usr).unwrap();
        std::fs::write(root.join("ld.so.cache"), b"glibc-ld.so.cache1.1libc.so.6\0").unwrap();
        LoaderFiles {
            cache: root.join("ld.so.cache"),
            preload: root.join("ld.so.preload"),
            system_dirs: vec![lib, usr],
        }
    }

    fn this_program() -> PathBuf {
        std::env::current_exe().unwrap()
    }

    /// What the supervisor decides for `libraries` and a worker `program`.
    fn none_findable(
        libraries: &[&str],
        env: &[(OsString, OsString)],
        program: &Path,
        files: &LoaderFiles,
    ) -> Option<String> {
        WorkerLoader::of(env, program, files)?.none_findable(libraries)
    }

    fn none(
        libraries: &[&str],
        env: &[(OsString, OsString)],
        files: &LoaderFiles,
    ) -> Option<String> {
        none_findable(libraries, env, &this_program(), files)
    }

    #[test]
    fn a_library_found_nowhere_is_absent_with_each_name_said() {
        let tmp = TempDir::new("absence-none");
        let files = layout(tmp.path());
        let missing = tmp.path().join("wsl/libcuda.so.1");
        let missing = missing.to_str().unwrap();
        let why = none(&["libcuda.so.1", missing], &[], &files).expect("absent");
        assert!(why.starts_with("libcuda.so.1: in neither "), "{why}");
        assert!(
            why.ends_with(&format!("; {missing}: no such file")),
            "{why}"
        );
    }

    #[test]
    fn anything_the_loader_could_find_means_maybe() {
        let tmp = TempDir::new("absence-maybe");
        let files = layout(tmp.path());
        let name = ["libhwspec-absent.so.1"];
        assert!(none(&name, &[], &files).is_some());
        // In the cache.
        std::fs::write(&files.cache, b"...libhwspec-absent.so.1\0...").unwrap();
        assert!(none(&name, &[], &files).is_none());
        std::fs::write(&files.cache, b"").unwrap();
        // In a system directory, in a glibc-hwcaps level, in a legacy hwcaps subdirectory,
        // or as a dangling symlink.
        for sub in ["", "glibc-hwcaps/x86-64-v3", "tls/haswell/x86_64"] {
            let dir = files.system_dirs[1].join(sub);
            std::fs::create_dir_all(&dir).unwrap();
            std::fs::write(dir.join(name[0]), b"").unwrap();
            assert!(none(&name, &[], &files).is_none(), "{sub}");
            std::fs::remove_file(dir.join(name[0])).unwrap();
            assert!(none(&name, &[], &files).is_some(), "{sub}");
        }
        std::os::unix::fs::symlink("/nonexistent", files.system_dirs[0].join(name[0])).unwrap();
        assert!(none(&name, &[], &files).is_none());
        std::fs::remove_file(files.system_dirs[0].join(name[0])).unwrap();
        // A preload file, or variables that add places or preload libraries.
        std::fs::write(&files.preload, b"").unwrap();
        assert!(none(&name, &[], &files).is_none());
        std::fs::remove_file(&files.preload).unwrap();
        for var in ["LD_LIBRARY_PATH", "LD_PRELOAD", "LD_AUDIT"] {
            let env = [(OsString::from(var), OsString::from("/somewhere"))];
            assert!(none(&name, &env, &files).is_none(), "{var}");
        }
        // A relative path, an empty name, a cache that cannot be read.
        assert!(none(&["lib/libcuda.so.1"], &[], &files).is_none());
        assert!(none(&[""], &[], &files).is_none());
        std::fs::remove_file(&files.cache).unwrap();
        std::fs::create_dir(&files.cache).unwrap();
        assert!(none(&name, &[], &files).is_none());
        // No libraries to look for: a worker decides.
        assert!(none(&[], &[], &files).is_none());
    }

    /// Hostile files where the loader's cache and the worker program are read: a FIFO (an open
    /// for reading would block until a writer came), a device, and a cache over the bound.
    /// Each is "maybe", at once.
    #[test]
    fn a_cache_or_program_that_is_no_regular_file_means_maybe_without_blocking() {
        let tmp = TempDir::new("absence-hostile");
        let files = layout(tmp.path());
        let name = ["libhwspec-absent.so.1"];
        let fifo = tmp.path().join("fifo");
        assert!(std::process::Command::new("mkfifo")
            .arg(&fifo)
            .status()
            .unwrap()
            .success());
        let started = std::time::Instant::now();
        for odd in [fifo.as_path(), Path::new("/dev/zero")] {
            let cache_is_odd = LoaderFiles {
                cache: odd.to_path_buf(),
                ..files.clone()
            };
            assert!(none(&name, &[], &cache_is_odd).is_none(), "{odd:?}");
            assert!(none_findable(&name, &[], odd, &files).is_none(), "{odd:?}");
        }
        assert!(started.elapsed() < std::time::Duration::from_secs(5));
        let huge = std::fs::File::create(&files.cache).unwrap();
        huge.set_len(MAX_CACHE_BYTES + 1).unwrap();
        assert!(none(&name, &[], &files).is_none());
        // Non-UTF-8 values are still seen as set.
        let env = [(
            OsString::from("LD_LIBRARY_PATH"),
            std::os::unix::ffi::OsStringExt::from_vec(vec![0xff, b'/']),
        )];
        assert!(none(&name, &env, &files).is_none());
    }

    #[test]
    fn a_program_with_its_own_search_path_means_maybe() {
        let tmp = TempDir::new("absence-runpath");
        let files = layout(tmp.path());
        let source = tmp.path().join("lib.c");
        std::fs::write(&source, "int hwspec_fixture(void) { return 0; }\n").unwrap();
        let plain = crate::testing::compile_fixture_linked(&source, tmp.path(), "plain.so", &[]);
        let runpath = crate::testing::compile_fixture_linked(
            &source,
            tmp.path(),
            "runpath.so",
            &["-Wl,-rpath,/opt/vendor/lib"],
        );
        assert_eq!(has_no_search_path(&plain), Some(true));
        assert_eq!(has_no_search_path(&runpath), Some(false));
        assert_eq!(has_no_search_path(&source), None);
        let name = ["libhwspec-absent.so.1"];
        assert!(none_findable(&name, &[], &plain, &files).is_some());
        assert!(none_findable(&name, &[], &runpath, &files).is_none());
    }

    #[test]
    fn this_system_follows_the_loader_it_models() {
        // The C library every process loads is found; the names of this suite are not.
        let Some(files) = LoaderFiles::of_this_system() else {
            return;
        };
        assert!(none_findable(&["libc.so.6"], &[], &this_program(), &files).is_none());
        assert!(none_findable(&["libhwspec-nowhere.so.7"], &[], &this_program(), &files).is_some());
    }
}
