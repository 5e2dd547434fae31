//! Compiled kernels kept between probes in the driver-cache directory a worker was given.

use std::fs;
use std::path::PathBuf;

use crate::driver_dirs::driver_cache_from_env;
use crate::files::{read_entry, remove_entry, stable_hash, write_entry};

/// A compiled kernel kept in the driver cache a worker was given: `<dir>/<kind>/<stem>-<key>`,
/// the key a [`stable_hash`] of everything the compiled code depends on (source, device,
/// driver). A miss, an unreadable entry or an entry that cannot be written only cost time.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KernelCache {
    dir: PathBuf,
    name: String,
}

impl KernelCache {
    /// The entry for `key_parts`, under `kind` (e.g. `opencl`), with a file name made of
    /// `stem`, the key and `extension`; `None` when the worker was given no driver cache.
    pub fn entry(kind: &str, stem: &str, extension: &str, key_parts: &[&[u8]]) -> Option<Self> {
        let dir = driver_cache_from_env()?.join(kind);
        let key = stable_hash(key_parts);
        Some(KernelCache {
            dir,
            name: format!("{stem}-{key:016x}.{extension}"),
        })
    }

    /// The cached code, if there is any.
    pub fn load(&self) -> Option<Vec<u8>> {
        read_entry(&self.dir, &self.name)
    }

    /// Keeps `code` for the next probe.
    pub fn store(&self, code: &[u8]) {
        if fs::create_dir_all(&self.dir).is_ok() {
            let _ = write_entry(&self.dir, &self.name, code);
        }
    }

    /// Forgets the entry, e.g. one the driver refused or that did not validate.
    pub fn discard(&self) {
        remove_entry(&self.dir, &self.name);
    }
}
