//! The VA-API C interface as far as the probe uses it: `libva.so.2` and `libva-drm.so.2`
//! opened by soname and never closed (design §3), every entry point resolved before any is
//! called, and thin wrappers that return a [`VaError`] naming the call and `vaErrorStr`'s text.
//!
//! The declarations are transcribed from libva 2.x's `va.h` and `va_drm.h` (API 1.x), so
//! building hwspec needs no libva package. Profiles and entry points stay plain `i32`s: a
//! driver newer than these notes may list values they do not name.

use crate::backends::common::LoadError;
use std::ffi::{c_char, c_int, c_uint, c_void, CStr};
use std::fmt;
use std::os::fd::{AsRawFd, OwnedFd};
use std::ptr;

use libloading::Library;

/// The sonames of Debian's `libva2` and `libva-drm2`.
pub(super) const LIBVA_SONAME: &str = "libva.so.2";
pub(super) const LIBVA_DRM_SONAME: &str = "libva-drm.so.2";

type VaDisplay = *mut c_void;
type VaStatus = c_int;
/// A `VAProfile`.
pub(super) type Profile = i32;
/// A `VAEntrypoint`.
pub(super) type Entrypoint = i32;

const VA_STATUS_SUCCESS: VaStatus = 0;
/// `VA_RT_FORMAT_YUV420`: 8-bit 4:2:0, what every profile chosen for validation decodes to.
const VA_RT_FORMAT_YUV420: c_uint = 0x1;
/// `VA_PROGRESSIVE`.
const VA_PROGRESSIVE: c_int = 0x1;

/// A VA-API call that did not return `VA_STATUS_SUCCESS`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct VaError {
    /// The C entry point.
    pub call: &'static str,
    /// The `VAStatus` it returned.
    pub status: i32,
    /// `vaErrorStr` of the status.
    pub text: String,
}

impl fmt::Display for VaError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} returned {} ({:#x})",
            self.call, self.text, self.status
        )
    }
}

/// The resolved entry points.
#[derive(Debug, Clone, Copy)]
pub(super) struct Va {
    get_display_drm: unsafe extern "C" fn(c_int) -> VaDisplay,
    initialize: unsafe extern "C" fn(VaDisplay, *mut c_int, *mut c_int) -> VaStatus,
    error_str: unsafe extern "C" fn(VaStatus) -> *const c_char,
    query_vendor_string: unsafe extern "C" fn(VaDisplay) -> *const c_char,
    max_num_profiles: unsafe extern "C" fn(VaDisplay) -> c_int,
    max_num_entrypoints: unsafe extern "C" fn(VaDisplay) -> c_int,
    query_config_profiles: unsafe extern "C" fn(VaDisplay, *mut Profile, *mut c_int) -> VaStatus,
    query_config_entrypoints:
        unsafe extern "C" fn(VaDisplay, Profile, *mut Entrypoint, *mut c_int) -> VaStatus,
    create_config: unsafe extern "C" fn(
        VaDisplay,
        Profile,
        Entrypoint,
        *mut c_void,
        c_int,
        *mut c_uint,
    ) -> VaStatus,
    destroy_config: unsafe extern "C" fn(VaDisplay, c_uint) -> VaStatus,
    create_surfaces: unsafe extern "C" fn(
        VaDisplay,
        c_uint,
        c_uint,
        c_uint,
        *mut c_uint,
        c_uint,
        *mut c_void,
        c_uint,
    ) -> VaStatus,
    destroy_surfaces: unsafe extern "C" fn(VaDisplay, *mut c_uint, c_int) -> VaStatus,
    create_context: unsafe extern "C" fn(
        VaDisplay,
        c_uint,
        c_int,
        c_int,
        c_int,
        *mut c_uint,
        c_int,
        *mut c_uint,
    ) -> VaStatus,
    destroy_context: unsafe extern "C" fn(VaDisplay, c_uint) -> VaStatus,
}

fn open(soname: &'static str) -> Result<&'static Library, LoadError> {
    // SAFETY: opening a library runs its initialisers; for libva that is the vendor code this
    // worker process exists to contain (design §3). It is never closed.
    match unsafe { Library::new(soname) } {
        Ok(library) => Ok(Box::leak(Box::new(library))),
        Err(error) => Err(LoadError::Library(soname.to_owned(), error.to_string())),
    }
}

/// The symbol `name` of `library` as a `T`.
///
/// # Safety
///
/// `T` must be a function pointer type matching the symbol's C declaration.
unsafe fn lookup<T: Copy>(library: &'static Library, name: &'static str) -> Result<T, LoadError> {
    // SAFETY: the caller promises `T` matches the symbol; the library is never unloaded, so
    // the pointer copied out stays valid for the life of the process.
    unsafe { library.get::<T>(name.as_bytes()) }
        .map(|symbol| *symbol)
        .map_err(|error| LoadError::Symbol(name, error.to_string()))
}

impl Va {
    /// Opens both libraries by the given names and resolves every entry point.
    pub(super) fn load(libva: &'static str, libva_drm: &'static str) -> Result<Va, LoadError> {
        let va = open(libva)?;
        let drm = open(libva_drm)?;
        // SAFETY: each type is the declaration in libva's va.h / va_drm.h: VADisplay is
        // `void *`, VAStatus and the enums `int`, the ids `unsigned int`, and the attribute
        // lists (only ever passed as NULL) pointers.
        unsafe {
            Ok(Va {
                get_display_drm: lookup(drm, "vaGetDisplayDRM")?,
                initialize: lookup(va, "vaInitialize")?,
                error_str: lookup(va, "vaErrorStr")?,
                query_vendor_string: lookup(va, "vaQueryVendorString")?,
                max_num_profiles: lookup(va, "vaMaxNumProfiles")?,
                max_num_entrypoints: lookup(va, "vaMaxNumEntrypoints")?,
                query_config_profiles: lookup(va, "vaQueryConfigProfiles")?,
                query_config_entrypoints: lookup(va, "vaQueryConfigEntrypoints")?,
                create_config: lookup(va, "vaCreateConfig")?,
                destroy_config: lookup(va, "vaDestroyConfig")?,
                create_surfaces: lookup(va, "vaCreateSurfaces")?,
                destroy_surfaces: lookup(va, "vaDestroySurfaces")?,
                create_context: lookup(va, "vaCreateContext")?,
                destroy_context: lookup(va, "vaDestroyContext")?,
            })
        }
    }

    fn check(&self, call: &'static str, status: VaStatus) -> Result<(), VaError> {
        if status == VA_STATUS_SUCCESS {
            return Ok(());
        }
        // SAFETY: vaErrorStr takes any status and returns a static string (or NULL).
        let text = unsafe { c_string((self.error_str)(status)) };
        Err(VaError { call, status, text })
    }

    /// A display on the DRM node `fd` refers to, initialised: its API version
    /// `(major, minor)`. The fd is kept open for the life of the process, as the display uses
    /// it and is never terminated (design §3: no teardown).
    pub(super) fn initialize(&self, fd: OwnedFd) -> Result<(Display, (i32, i32)), VaError> {
        let raw_fd = fd.as_raw_fd();
        std::mem::forget(fd);
        // SAFETY: `raw_fd` is an open file descriptor that stays open for good.
        let raw = unsafe { (self.get_display_drm)(raw_fd) };
        if raw.is_null() {
            return Err(VaError {
                call: "vaGetDisplayDRM",
                status: -1,
                text: "no display (not a DRM device?)".into(),
            });
        }
        let (mut major, mut minor) = (0, 0);
        // SAFETY: `raw` is a display vaGetDisplayDRM returned; the out pointers are live.
        let status = unsafe { (self.initialize)(raw, &mut major, &mut minor) };
        self.check("vaInitialize", status)?;
        Ok((Display { raw, va: *self }, (major, minor)))
    }
}

/// The string at `p`, or empty for NULL.
///
/// # Safety
///
/// `p` is NULL or points to a NUL-terminated string that lives through the call.
unsafe fn c_string(p: *const c_char) -> String {
    if p.is_null() {
        return String::new();
    }
    // SAFETY: promised by the caller.
    unsafe { CStr::from_ptr(p) }.to_string_lossy().into_owned()
}

/// An initialised VA display.
#[derive(Debug)]
pub(super) struct Display {
    raw: VaDisplay,
    va: Va,
}

impl Display {
    /// `vaQueryVendorString`: the driver's own description, version included.
    pub(super) fn vendor(&self) -> String {
        // SAFETY: the display is initialised; the string belongs to the driver and lives as
        // long as the display.
        unsafe { c_string((self.va.query_vendor_string)(self.raw)) }
    }

    /// Every profile the driver supports.
    pub(super) fn profiles(&self) -> Result<Vec<Profile>, VaError> {
        // SAFETY: the display is initialised.
        let max = unsafe { (self.va.max_num_profiles)(self.raw) };
        let mut list = vec![0; usize::try_from(max).unwrap_or(0)];
        let mut count = 0;
        // SAFETY: `list` holds vaMaxNumProfiles entries, as va.h requires.
        let status =
            unsafe { (self.va.query_config_profiles)(self.raw, list.as_mut_ptr(), &mut count) };
        self.va.check("vaQueryConfigProfiles", status)?;
        list.truncate(usize::try_from(count).unwrap_or(0));
        Ok(list)
    }

    /// Every entry point the driver supports for `profile`.
    pub(super) fn entrypoints(&self, profile: Profile) -> Result<Vec<Entrypoint>, VaError> {
        // SAFETY: the display is initialised.
        let max = unsafe { (self.va.max_num_entrypoints)(self.raw) };
        let mut list = vec![0; usize::try_from(max).unwrap_or(0)];
        let mut count = 0;
        // SAFETY: `list` holds vaMaxNumEntrypoints entries, as va.h requires.
        let status = unsafe {
            (self.va.query_config_entrypoints)(self.raw, profile, list.as_mut_ptr(), &mut count)
        };
        self.va.check("vaQueryConfigEntrypoints", status)?;
        list.truncate(usize::try_from(count).unwrap_or(0));
        Ok(list)
    }

    /// Creates a decode config for `profile`, `surfaces` 8-bit 4:2:0 surfaces of
    /// `width`×`height` and a decode context on them, then destroys all three. This is the
    /// whole setup a decoder needs before its first picture.
    pub(super) fn create_decode_context(
        &self,
        profile: Profile,
        entrypoint: Entrypoint,
        width: u32,
        height: u32,
    ) -> Result<(), VaError> {
        let va = &self.va;
        let mut config = 0;
        // SAFETY: the display is initialised; no attributes are passed, so the driver uses
        // its defaults; `config` is a live out pointer.
        let status = unsafe {
            (va.create_config)(
                self.raw,
                profile,
                entrypoint,
                ptr::null_mut(),
                0,
                &mut config,
            )
        };
        va.check("vaCreateConfig", status)?;
        let mut surfaces = [0 as c_uint; 4];
        // SAFETY: `surfaces` has room for the count passed; no attributes.
        let status = unsafe {
            (va.create_surfaces)(
                self.raw,
                VA_RT_FORMAT_YUV420,
                width,
                height,
                surfaces.as_mut_ptr(),
                surfaces.len() as c_uint,
                ptr::null_mut(),
                0,
            )
        };
        let result = va.check("vaCreateSurfaces", status).and_then(|()| {
            let mut context = 0;
            // SAFETY: the config and surfaces were just created on this display.
            let status = unsafe {
                (va.create_context)(
                    self.raw,
                    config,
                    width as c_int,
                    height as c_int,
                    VA_PROGRESSIVE,
                    surfaces.as_mut_ptr(),
                    surfaces.len() as c_int,
                    &mut context,
                )
            };
            va.check("vaCreateContext", status)?;
            // SAFETY: the context was created above and is not used again.
            let status = unsafe { (va.destroy_context)(self.raw, context) };
            va.check("vaDestroyContext", status)?;
            // SAFETY: the surfaces were created above and their context is gone.
            let status = unsafe {
                (va.destroy_surfaces)(self.raw, surfaces.as_mut_ptr(), surfaces.len() as c_int)
            };
            va.check("vaDestroySurfaces", status)
        });
        // SAFETY: the config was created above and nothing uses it any more.
        let status = unsafe { (va.destroy_config)(self.raw, config) };
        result.and_then(|()| va.check("vaDestroyConfig", status))
    }
}
