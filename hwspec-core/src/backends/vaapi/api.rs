//! Safe wrappers over libva: both libraries opened by soname and never closed (design §3),
//! every entry point resolved before any is called, and an initialised display whose calls
//! return a [`VaError`] naming the call and `vaErrorStr`'s text.

// The wrappers are where the raw entry points of sys.rs are called.
#![allow(unsafe_code)]

use std::ffi::{c_int, c_uint};
use std::os::fd::{AsRawFd, OwnedFd};
use std::ptr;

use super::sys::*;
use crate::backends::common::{CallError, Library, LoadError, Spelling};

/// A VA-API call that did not return `VA_STATUS_SUCCESS`, named by `vaErrorStr`.
pub(super) type VaError = CallError;

/// The error of `call`, which returned `status`, named `text` (`vaErrorStr`'s answer), the
/// number in hex as va.h defines it. A negative status reads as its 32 bits, as C prints it.
pub(super) fn va_error(call: &'static str, status: VaStatus, text: String) -> VaError {
    let error = CallError::new(call, status as u32).spelled(Spelling::Hex { digits: 1 });
    if text.is_empty() {
        error
    } else {
        error.named(text)
    }
}

/// Both libraries' entry points, resolved.
#[derive(Debug, Clone, Copy)]
pub(super) struct Va {
    core: Core,
    drm: Drm,
}

impl Va {
    /// Opens both libraries by the given names and resolves every entry point.
    pub(super) fn load(libva: &'static str, libva_drm: &'static str) -> Result<Va, LoadError> {
        let core = Core::resolve(&Library::open(libva)?)?;
        let drm = Drm::resolve(&Library::open(libva_drm)?)?;
        Ok(Va { core, drm })
    }

    fn check(&self, call: &'static str, status: VaStatus) -> Result<(), VaError> {
        if status == VA_STATUS_SUCCESS {
            return Ok(());
        }
        // SAFETY: vaErrorStr takes any status and returns a static string (or NULL).
        let text = unsafe { c_string((self.core.error_str)(status)) };
        Err(va_error(call, status, text))
    }

    /// A display on the DRM node `fd` refers to, initialised: its API version
    /// `(major, minor)`. The fd is kept open for the life of the process, as the display uses
    /// it and is never terminated (design §3: no teardown).
    pub(super) fn initialize(&self, fd: OwnedFd) -> Result<(Display, (i32, i32)), VaError> {
        let raw_fd = fd.as_raw_fd();
        std::mem::forget(fd);
        // SAFETY: `raw_fd` is an open file descriptor that stays open for good.
        let raw = unsafe { (self.drm.get_display_drm)(raw_fd) };
        if raw.is_null() {
            return Err(va_error(
                "vaGetDisplayDRM",
                -1,
                "no display (not a DRM device?)".into(),
            ));
        }
        let (mut major, mut minor) = (0, 0);
        // SAFETY: `raw` is a display vaGetDisplayDRM returned; the out pointers are live.
        let status = unsafe { (self.core.initialize)(raw, &mut major, &mut minor) };
        self.check("vaInitialize", status)?;
        Ok((Display { raw, va: *self }, (major, minor)))
    }
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
        unsafe { c_string((self.va.core.query_vendor_string)(self.raw)) }
    }

    /// Every profile the driver supports.
    pub(super) fn profiles(&self) -> Result<Vec<Profile>, VaError> {
        // SAFETY: the display is initialised.
        let max = unsafe { (self.va.core.max_num_profiles)(self.raw) };
        let mut list = vec![0; usize::try_from(max).unwrap_or(0)];
        let mut count = 0;
        // SAFETY: `list` holds vaMaxNumProfiles entries, as va.h requires.
        let status = unsafe {
            (self.va.core.query_config_profiles)(self.raw, list.as_mut_ptr(), &mut count)
        };
        self.va.check("vaQueryConfigProfiles", status)?;
        list.truncate(usize::try_from(count).unwrap_or(0));
        Ok(list)
    }

    /// Every entry point the driver supports for `profile`.
    pub(super) fn entrypoints(&self, profile: Profile) -> Result<Vec<Entrypoint>, VaError> {
        // SAFETY: the display is initialised.
        let max = unsafe { (self.va.core.max_num_entrypoints)(self.raw) };
        let mut list = vec![0; usize::try_from(max).unwrap_or(0)];
        let mut count = 0;
        // SAFETY: `list` holds vaMaxNumEntrypoints entries, as va.h requires.
        let status = unsafe {
            (self.va.core.query_config_entrypoints)(
                self.raw,
                profile,
                list.as_mut_ptr(),
                &mut count,
            )
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
            (va.core.create_config)(
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
            (va.core.create_surfaces)(
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
                (va.core.create_context)(
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
            let status = unsafe { (va.core.destroy_context)(self.raw, context) };
            va.check("vaDestroyContext", status)?;
            // SAFETY: the surfaces were created above and their context is gone.
            let status = unsafe {
                (va.core.destroy_surfaces)(self.raw, surfaces.as_mut_ptr(), surfaces.len() as c_int)
            };
            va.check("vaDestroySurfaces", status)
        });
        // SAFETY: the config was created above and nothing uses it any more.
        let status = unsafe { (va.core.destroy_config)(self.raw, config) };
        result.and_then(|()| va.check("vaDestroyConfig", status))
    }
}
