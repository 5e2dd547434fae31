#![allow(unsafe_code)]
// Why: ash's entry is made from the loader's vkGetInstanceProcAddr, a raw function pointer.

//! Loading: `libvulkan.so.1` opened through the toolkit and never closed, and ash's entry made
//! from the loader's one export, through which ash resolves every other command.

use ash::vk;

use crate::backends::common::{symbol_table, Library, LoadError};

/// The loader's soname, as `dlopen` is asked for it.
pub(super) const LIBRARY: &str = "libvulkan.so.1";

symbol_table! {
    /// The loader's export that every other command is resolved through.
    struct Exports {
        required {
            get_instance_proc_addr = c"vkGetInstanceProcAddr": vk::PFN_vkGetInstanceProcAddr;
        }
    }
}

/// Opens the loader `library` (normally [`LIBRARY`]) and makes ash's entry from it. Opening runs the loader's initialisers,
/// which is what it is built for; a loader that misbehaves doing so is contained by the worker
/// process this backend runs in.
pub(super) fn load(library: &'static str) -> Result<ash::Entry, LoadError> {
    let library = Library::open(library)?;
    let exports = Exports::resolve(&library)?;
    let static_fn = ash::StaticFn {
        get_instance_proc_addr: exports.get_instance_proc_addr,
    };
    // SAFETY: the pointer is the loader's vkGetInstanceProcAddr, with the type its header
    // declares, from a library that is never unloaded; ash resolves the global commands
    // through it.
    Ok(unsafe { ash::Entry::from_static_fn(static_fn) })
}

/// Whether a `dlopen` error message means the library is not installed, as opposed to
/// installed but unloadable (wrong architecture, missing dependency, bad ELF).
pub(super) fn is_missing_library(dlerror: &str) -> bool {
    dlerror.contains("cannot open shared object file: No such file or directory")
}
