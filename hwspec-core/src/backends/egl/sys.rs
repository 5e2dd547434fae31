//! EGL and the OpenGL ES / OpenGL entry points the probe uses, declared: types, constants, the
//! symbol table of `libEGL.so.1` and the table of GL functions found through
//! `eglGetProcAddress`, with the headers' names for their error numbers.
//!
//! The declarations are written out from Khronos' `egl.h`, `eglext.h` and `gl2.h` (Debian's
//! `libegl-dev`, `libgles-dev`) rather than generated, so building hwspec needs neither. Only
//! `libEGL.so.1` is opened: GL functions come from `eglGetProcAddress`, which libglvnd answers
//! for every core function (EGL_KHR_get_all_proc_addresses), so the same code drives OpenGL ES
//! and desktop OpenGL without also opening `libGLESv2.so.2` or `libGL.so.1`. The library is
//! never closed (design §3: no dlclose).

// Resolving symbols and turning addresses into function pointers are unsafe by nature.
#![allow(unsafe_code)]

use std::ffi::{c_char, c_void, CStr};

use crate::backends::common::{symbol_table, CallError, Spelling};

/// libglvnd's EGL dispatcher as Debian's `libegl1` installs it. The unversioned name belongs to
/// `libegl-dev` and is never opened.
pub(super) const EGL_SONAME: &str = "libEGL.so.1";

pub(super) type EglInt = i32;
pub(super) type EglBoolean = u32;
pub(super) type EglEnum = u32;
pub(super) type Handle = *mut c_void;

pub(super) const EGL_SUCCESS: EglInt = 0x3000;
pub(super) const EGL_FALSE: EglBoolean = 0;
pub(super) const EGL_NONE: EglInt = 0x3038;
pub(super) const EGL_VENDOR: EglInt = 0x3053;
pub(super) const EGL_VERSION: EglInt = 0x3054;
pub(super) const EGL_EXTENSIONS: EglInt = 0x3055;
pub(super) const EGL_CLIENT_APIS: EglInt = 0x308D;
pub(super) const EGL_SURFACE_TYPE: EglInt = 0x3033;
pub(super) const EGL_PBUFFER_BIT: EglInt = 0x0001;
pub(super) const EGL_RENDERABLE_TYPE: EglInt = 0x3040;
pub(super) const EGL_OPENGL_ES2_BIT: EglInt = 0x0004;
pub(super) const EGL_OPENGL_BIT: EglInt = 0x0008;
pub(super) const EGL_OPENGL_ES3_BIT: EglInt = 0x0040;
pub(super) const EGL_WIDTH: EglInt = 0x3057;
pub(super) const EGL_HEIGHT: EglInt = 0x3056;
pub(super) const EGL_CONTEXT_MAJOR_VERSION: EglInt = 0x3098;
pub(super) const EGL_OPENGL_ES_API: EglEnum = 0x30A0;
pub(super) const EGL_OPENGL_API: EglEnum = 0x30A2;
pub(super) const EGL_PLATFORM_DEVICE_EXT: EglEnum = 0x313F;
pub(super) const EGL_PLATFORM_SURFACELESS_MESA: EglEnum = 0x31DD;
pub(super) const EGL_DRM_DEVICE_FILE_EXT: EglInt = 0x3233;
pub(super) const EGL_DRM_RENDER_NODE_FILE_EXT: EglInt = 0x3377;
/// Most EGL devices a probe lists; a machine has a handful at most.
pub(super) const MAX_DEVICES: EglInt = 32;

/// Every EGL error code with its header name.
pub(super) const ERROR_NAMES: &[(EglInt, &str)] = &[
    (0x3000, "EGL_SUCCESS"),
    (0x3001, "EGL_NOT_INITIALIZED"),
    (0x3002, "EGL_BAD_ACCESS"),
    (0x3003, "EGL_BAD_ALLOC"),
    (0x3004, "EGL_BAD_ATTRIBUTE"),
    (0x3005, "EGL_BAD_CONFIG"),
    (0x3006, "EGL_BAD_CONTEXT"),
    (0x3007, "EGL_BAD_CURRENT_SURFACE"),
    (0x3008, "EGL_BAD_DISPLAY"),
    (0x3009, "EGL_BAD_MATCH"),
    (0x300A, "EGL_BAD_NATIVE_PIXMAP"),
    (0x300B, "EGL_BAD_NATIVE_WINDOW"),
    (0x300C, "EGL_BAD_PARAMETER"),
    (0x300D, "EGL_BAD_SURFACE"),
    (0x300E, "EGL_CONTEXT_LOST"),
    (0x322B, "EGL_BAD_DEVICE_EXT"),
];

/// The header's name for an EGL error code, or `None` for one it does not define.
pub(super) fn error_name(code: EglInt) -> Option<&'static str> {
    crate::backends::common::name_in(ERROR_NAMES, &code)
}

/// An EGL call that failed, with what `eglGetError` said afterwards.
pub(super) type EglError = CallError;

/// The error of `call`, with `code` from `eglGetError` afterwards, named as egl.h names it.
pub(super) fn egl_error(call: &'static str, code: EglInt) -> EglError {
    CallError::new(call, code)
        .named_by(|code| EglInt::try_from(code).ok().and_then(error_name))
        .spelled(Spelling::LastError)
}

symbol_table! {
    /// The EGL 1.4 entry points, resolved when the library is opened, each declared as egl.h
    /// declares it.
    pub(super) struct Api {
        required {
            get_error = c"eglGetError": unsafe extern "C" fn() -> EglInt;
            get_proc_address = c"eglGetProcAddress": unsafe extern "C" fn(*const c_char) -> *mut c_void;
            initialize = c"eglInitialize":
                unsafe extern "C" fn(Handle, *mut EglInt, *mut EglInt) -> EglBoolean;
            query_string = c"eglQueryString": unsafe extern "C" fn(Handle, EglInt) -> *const c_char;
            bind_api = c"eglBindAPI": unsafe extern "C" fn(EglEnum) -> EglBoolean;
            choose_config = c"eglChooseConfig": unsafe extern "C" fn(
                Handle, *const EglInt, *mut Handle, EglInt, *mut EglInt) -> EglBoolean;
            create_context = c"eglCreateContext":
                unsafe extern "C" fn(Handle, Handle, Handle, *const EglInt) -> Handle;
            destroy_context = c"eglDestroyContext": unsafe extern "C" fn(Handle, Handle) -> EglBoolean;
            make_current = c"eglMakeCurrent":
                unsafe extern "C" fn(Handle, Handle, Handle, Handle) -> EglBoolean;
            create_pbuffer_surface = c"eglCreatePbufferSurface":
                unsafe extern "C" fn(Handle, Handle, *const EglInt) -> Handle;
            destroy_surface = c"eglDestroySurface": unsafe extern "C" fn(Handle, Handle) -> EglBoolean;
        }
    }
}

/// The extension entry points of device enumeration, found through `eglGetProcAddress`.
#[derive(Clone, Copy)]
pub(super) struct PlatformApi {
    pub(super) get_platform_display:
        unsafe extern "C" fn(EglEnum, *mut c_void, *const EglInt) -> Handle,
    pub(super) query_devices:
        Option<unsafe extern "C" fn(EglInt, *mut Handle, *mut EglInt) -> EglBoolean>,
    pub(super) query_device_string: Option<unsafe extern "C" fn(Handle, EglInt) -> *const c_char>,
}

/// A string EGL or GL returned, copied; NULL becomes `None`.
///
/// # Safety
/// `raw` is NULL or points at a NUL-terminated string that stays valid during the call.
pub(super) unsafe fn owned(raw: *const c_char) -> Option<String> {
    if raw.is_null() {
        return None;
    }
    // SAFETY: non-NULL, and NUL-terminated as the caller promises.
    Some(
        unsafe { CStr::from_ptr(raw) }
            .to_string_lossy()
            .into_owned(),
    )
}

pub(super) type GlEnum = u32;
pub(super) type GlUint = u32;
pub(super) type GlInt = i32;
pub(super) type GlSizei = i32;

pub(super) const GL_VENDOR: GlEnum = 0x1F00;
pub(super) const GL_RENDERER: GlEnum = 0x1F01;
pub(super) const GL_VERSION: GlEnum = 0x1F02;
pub(super) const GL_SHADING_LANGUAGE_VERSION: GlEnum = 0x8B8C;
pub(super) const GL_NO_ERROR: GlEnum = 0;
pub(super) const GL_FRAMEBUFFER: GlEnum = 0x8D40;
pub(super) const GL_RENDERBUFFER: GlEnum = 0x8D41;
pub(super) const GL_RGBA8: GlEnum = 0x8058;
pub(super) const GL_COLOR_ATTACHMENT0: GlEnum = 0x8CE0;
pub(super) const GL_FRAMEBUFFER_COMPLETE: GlEnum = 0x8CD5;
pub(super) const GL_COLOR_BUFFER_BIT: GlUint = 0x4000;
pub(super) const GL_VERTEX_SHADER: GlEnum = 0x8B31;
pub(super) const GL_FRAGMENT_SHADER: GlEnum = 0x8B30;
pub(super) const GL_COMPILE_STATUS: GlEnum = 0x8B81;
pub(super) const GL_LINK_STATUS: GlEnum = 0x8B82;
pub(super) const GL_INFO_LOG_LENGTH: GlEnum = 0x8B84;
pub(super) const GL_FLOAT: GlEnum = 0x1406;
pub(super) const GL_TRIANGLE_STRIP: GlEnum = 0x0005;
pub(super) const GL_RGBA: GlEnum = 0x1908;
pub(super) const GL_UNSIGNED_BYTE: GlEnum = 0x1401;

/// The header's name for a GL error or framebuffer status, else the number in hex.
pub(super) fn gl_error_name(code: u32) -> String {
    let name = match code {
        0x0500 => "GL_INVALID_ENUM",
        0x0501 => "GL_INVALID_VALUE",
        0x0502 => "GL_INVALID_OPERATION",
        0x0505 => "GL_OUT_OF_MEMORY",
        0x0506 => "GL_INVALID_FRAMEBUFFER_OPERATION",
        0x8CD6 => "GL_FRAMEBUFFER_INCOMPLETE_ATTACHMENT",
        0x8CD7 => "GL_FRAMEBUFFER_INCOMPLETE_MISSING_ATTACHMENT",
        0x8CDD => "GL_FRAMEBUFFER_UNSUPPORTED",
        _ => return format!("{code:#06x}"),
    };
    name.to_owned()
}

/// The GL entry points the probe calls, declared as gl2.h declares them (identical in
/// desktop OpenGL 2.0 and later).
pub(super) struct GlApi {
    pub(super) get_string: unsafe extern "C" fn(GlEnum) -> *const u8,
    pub(super) get_error: unsafe extern "C" fn() -> GlEnum,
    pub(super) gen_framebuffers: unsafe extern "C" fn(GlSizei, *mut GlUint),
    pub(super) bind_framebuffer: unsafe extern "C" fn(GlEnum, GlUint),
    pub(super) gen_renderbuffers: unsafe extern "C" fn(GlSizei, *mut GlUint),
    pub(super) bind_renderbuffer: unsafe extern "C" fn(GlEnum, GlUint),
    pub(super) renderbuffer_storage: unsafe extern "C" fn(GlEnum, GlEnum, GlSizei, GlSizei),
    pub(super) framebuffer_renderbuffer: unsafe extern "C" fn(GlEnum, GlEnum, GlEnum, GlUint),
    pub(super) check_framebuffer_status: unsafe extern "C" fn(GlEnum) -> GlEnum,
    pub(super) viewport: unsafe extern "C" fn(GlInt, GlInt, GlSizei, GlSizei),
    pub(super) clear_color: unsafe extern "C" fn(f32, f32, f32, f32),
    pub(super) clear: unsafe extern "C" fn(GlUint),
    pub(super) create_shader: unsafe extern "C" fn(GlEnum) -> GlUint,
    pub(super) shader_source:
        unsafe extern "C" fn(GlUint, GlSizei, *const *const c_char, *const GlInt),
    pub(super) compile_shader: unsafe extern "C" fn(GlUint),
    pub(super) get_shader_iv: unsafe extern "C" fn(GlUint, GlEnum, *mut GlInt),
    pub(super) get_shader_info_log:
        unsafe extern "C" fn(GlUint, GlSizei, *mut GlSizei, *mut c_char),
    pub(super) create_program: unsafe extern "C" fn() -> GlUint,
    pub(super) attach_shader: unsafe extern "C" fn(GlUint, GlUint),
    pub(super) bind_attrib_location: unsafe extern "C" fn(GlUint, GlUint, *const c_char),
    pub(super) link_program: unsafe extern "C" fn(GlUint),
    pub(super) get_program_iv: unsafe extern "C" fn(GlUint, GlEnum, *mut GlInt),
    pub(super) get_program_info_log:
        unsafe extern "C" fn(GlUint, GlSizei, *mut GlSizei, *mut c_char),
    pub(super) use_program: unsafe extern "C" fn(GlUint),
    pub(super) enable_vertex_attrib_array: unsafe extern "C" fn(GlUint),
    pub(super) vertex_attrib_pointer:
        unsafe extern "C" fn(GlUint, GlInt, GlEnum, u8, GlSizei, *const c_void),
    pub(super) draw_arrays: unsafe extern "C" fn(GlEnum, GlInt, GlSizei),
    pub(super) read_pixels:
        unsafe extern "C" fn(GlInt, GlInt, GlSizei, GlSizei, GlEnum, GlEnum, *mut c_void),
    pub(super) finish: unsafe extern "C" fn(),
}

/// `address` as the function pointer type `F`.
///
/// # Safety
/// `address` is non-NULL and the entry point there has the signature `F` declares.
pub(super) unsafe fn function_pointer<F: Copy>(address: *mut c_void) -> F {
    const { assert!(std::mem::size_of::<F>() == std::mem::size_of::<*mut c_void>()) };
    // SAFETY: same size (asserted above); the caller vouches for the signature.
    unsafe { std::mem::transmute_copy::<*mut c_void, F>(&address) }
}

/// [`function_pointer`] of an entry point that may be missing: `None` for NULL.
///
/// # Safety
/// A non-NULL `address` is an entry point with the signature `F` declares.
pub(super) unsafe fn optional_function_pointer<F: Copy>(address: *mut c_void) -> Option<F> {
    // SAFETY: non-NULL here, and the caller vouches for the signature.
    (!address.is_null()).then(|| unsafe { function_pointer(address) })
}
