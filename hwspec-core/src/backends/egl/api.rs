//! EGL and the OpenGL ES / OpenGL entry points the probe uses: the library and its symbols,
//! thin wrappers returning an [`EglError`] or [`GlError`] naming the call, and a context that
//! releases itself on drop. All of the backend's unsafe code is here.
//!
//! The declarations are written out from Khronos' `egl.h`, `eglext.h` and `gl2.h` (Debian's
//! `libegl-dev`, `libgles-dev`) rather than generated, so building hwspec needs neither. Only
//! `libEGL.so.1` is opened: GL functions come from `eglGetProcAddress`, which libglvnd answers
//! for every core function (EGL_KHR_get_all_proc_addresses), so the same code drives OpenGL ES
//! and desktop OpenGL without also opening `libGLESv2.so.2` or `libGL.so.1`. The library is
//! never closed (design §3: no dlclose).

use crate::backends::common::{symbol_table, CallError, Library, LoadError, Spelling};
use std::ffi::{c_char, c_void, CStr, CString};
use std::fmt;
use std::ptr;

/// libglvnd's EGL dispatcher as Debian's `libegl1` installs it. The unversioned name belongs to
/// `libegl-dev` and is never opened.
pub(super) const EGL_SONAME: &str = "libEGL.so.1";

pub(super) type EglInt = i32;
type EglBoolean = u32;
type EglEnum = u32;
type Handle = *mut c_void;

const EGL_SUCCESS: EglInt = 0x3000;
const EGL_FALSE: EglBoolean = 0;
const EGL_NONE: EglInt = 0x3038;
const EGL_VENDOR: EglInt = 0x3053;
const EGL_VERSION: EglInt = 0x3054;
const EGL_EXTENSIONS: EglInt = 0x3055;
const EGL_CLIENT_APIS: EglInt = 0x308D;
const EGL_SURFACE_TYPE: EglInt = 0x3033;
const EGL_PBUFFER_BIT: EglInt = 0x0001;
const EGL_RENDERABLE_TYPE: EglInt = 0x3040;
const EGL_OPENGL_ES2_BIT: EglInt = 0x0004;
const EGL_OPENGL_BIT: EglInt = 0x0008;
const EGL_OPENGL_ES3_BIT: EglInt = 0x0040;
const EGL_WIDTH: EglInt = 0x3057;
const EGL_HEIGHT: EglInt = 0x3056;
const EGL_CONTEXT_MAJOR_VERSION: EglInt = 0x3098;
const EGL_OPENGL_ES_API: EglEnum = 0x30A0;
const EGL_OPENGL_API: EglEnum = 0x30A2;
const EGL_PLATFORM_DEVICE_EXT: EglEnum = 0x313F;
const EGL_PLATFORM_SURFACELESS_MESA: EglEnum = 0x31DD;
const EGL_DRM_DEVICE_FILE_EXT: EglInt = 0x3233;
const EGL_DRM_RENDER_NODE_FILE_EXT: EglInt = 0x3377;
/// Most EGL devices a probe lists; a machine has a handful at most.
const MAX_DEVICES: EglInt = 32;

/// Every EGL error code with its header name.
const ERROR_NAMES: &[(EglInt, &str)] = &[
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
    ERROR_NAMES
        .iter()
        .find(|(value, _)| *value == code)
        .map(|(_, name)| *name)
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
    struct Api {
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
struct PlatformApi {
    get_platform_display: unsafe extern "C" fn(EglEnum, *mut c_void, *const EglInt) -> Handle,
    query_devices: Option<unsafe extern "C" fn(EglInt, *mut Handle, *mut EglInt) -> EglBoolean>,
    query_device_string: Option<unsafe extern "C" fn(Handle, EglInt) -> *const c_char>,
}

/// The opened library; copies share one leaked [`Api`].
#[derive(Clone, Copy)]
pub(super) struct Egl(&'static Api);

impl fmt::Debug for Egl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Egl")
    }
}

/// A string EGL or GL returned, copied; NULL becomes `None`.
///
/// # Safety
/// `raw` is NULL or points at a NUL-terminated string that stays valid during the call.
unsafe fn owned(raw: *const c_char) -> Option<String> {
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

impl Egl {
    /// Opens `soname` and resolves the EGL 1.4 entry points. The library is never closed.
    pub(super) fn open(soname: &'static str) -> Result<Egl, LoadError> {
        let library = Library::open(soname)?;
        Ok(Egl(Box::leak(Box::new(Api::resolve(&library)?))))
    }

    fn error(self, call: &'static str) -> EglError {
        // SAFETY: eglGetError takes nothing and reads this thread's last error.
        let code = unsafe { (self.0.get_error)() };
        egl_error(call, code)
    }

    /// The address of `name`, or NULL.
    fn proc_address(self, name: &CStr) -> *mut c_void {
        // SAFETY: `name` is NUL-terminated.
        unsafe { (self.0.get_proc_address)(name.as_ptr()) }
    }

    /// The client extensions (`eglQueryString(EGL_NO_DISPLAY, EGL_EXTENSIONS)`); libglvnd
    /// loads its vendor libraries here. `None` for an EGL without client extensions.
    pub(super) fn client_extensions(self) -> Option<String> {
        // SAFETY: EGL_NO_DISPLAY with EGL_EXTENSIONS is the documented client-extension query;
        // the result is NULL or a static string.
        unsafe { owned((self.0.query_string)(ptr::null_mut(), EGL_EXTENSIONS)) }
    }

    fn platform_api(self) -> Option<PlatformApi> {
        let get_platform_display = self.proc_address(c"eglGetPlatformDisplayEXT");
        if get_platform_display.is_null() {
            return None;
        }
        let query_devices = self.proc_address(c"eglQueryDevicesEXT");
        let query_device_string = self.proc_address(c"eglQueryDeviceStringEXT");
        // SAFETY: each non-NULL address is the extension function of that name, whose
        // signature in eglext.h is the one transmuted to; NULL becomes `None`.
        unsafe {
            Some(PlatformApi {
                get_platform_display: std::mem::transmute::<
                    *mut c_void,
                    unsafe extern "C" fn(EglEnum, *mut c_void, *const EglInt) -> Handle,
                >(get_platform_display),
                query_devices: (!query_devices.is_null()).then(|| {
                    std::mem::transmute::<
                        *mut c_void,
                        unsafe extern "C" fn(EglInt, *mut Handle, *mut EglInt) -> EglBoolean,
                    >(query_devices)
                }),
                query_device_string: (!query_device_string.is_null()).then(|| {
                    std::mem::transmute::<
                        *mut c_void,
                        unsafe extern "C" fn(Handle, EglInt) -> *const c_char,
                    >(query_device_string)
                }),
            })
        }
    }

    /// Every EGL device (EGL_EXT_device_enumeration).
    pub(super) fn devices(self) -> Result<Vec<EglDevice>, EglError> {
        let Some(platform) = self.platform_api() else {
            return Err(egl_error(
                "eglGetProcAddress(eglGetPlatformDisplayEXT)",
                EGL_SUCCESS,
            ));
        };
        let Some(query_devices) = platform.query_devices else {
            return Err(egl_error(
                "eglGetProcAddress(eglQueryDevicesEXT)",
                EGL_SUCCESS,
            ));
        };
        let mut handles = vec![ptr::null_mut(); MAX_DEVICES as usize];
        let mut count: EglInt = 0;
        // SAFETY: `handles` has room for MAX_DEVICES handles and `count` is writable.
        let ok = unsafe { query_devices(MAX_DEVICES, handles.as_mut_ptr(), &mut count) };
        if ok == EGL_FALSE {
            return Err(self.error("eglQueryDevicesEXT"));
        }
        handles.truncate(count.clamp(0, MAX_DEVICES) as usize);
        Ok(handles
            .into_iter()
            .map(|raw| EglDevice {
                egl: self,
                platform,
                raw,
            })
            .collect())
    }

    /// The display of Mesa's surfaceless platform (EGL_MESA_platform_surfaceless).
    pub(super) fn surfaceless_display(self) -> Result<Display, EglError> {
        let Some(platform) = self.platform_api() else {
            return Err(egl_error(
                "eglGetProcAddress(eglGetPlatformDisplayEXT)",
                EGL_SUCCESS,
            ));
        };
        let attributes = [EGL_NONE];
        // SAFETY: the surfaceless platform takes EGL_DEFAULT_DISPLAY (NULL) as its native
        // display; the attribute list is terminated.
        let raw = unsafe {
            (platform.get_platform_display)(
                EGL_PLATFORM_SURFACELESS_MESA,
                ptr::null_mut(),
                attributes.as_ptr(),
            )
        };
        self.display(
            raw,
            "eglGetPlatformDisplayEXT(EGL_PLATFORM_SURFACELESS_MESA)",
        )
    }

    fn display(self, raw: Handle, call: &'static str) -> Result<Display, EglError> {
        if raw.is_null() {
            Err(self.error(call))
        } else {
            Ok(Display { egl: self, raw })
        }
    }
}

/// One EGL device (`EGLDeviceEXT`).
#[derive(Clone, Copy)]
pub(super) struct EglDevice {
    egl: Egl,
    platform: PlatformApi,
    raw: Handle,
}

impl fmt::Debug for EglDevice {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "EglDevice({:p})", self.raw)
    }
}

impl EglDevice {
    fn string(self, name: EglInt) -> Option<String> {
        let query = self.platform.query_device_string?;
        // SAFETY: `raw` came from eglQueryDevicesEXT; the result is NULL or a string owned by
        // the device.
        unsafe { owned(query(self.raw, name)) }
    }

    /// The device's extensions (`EGL_MESA_device_software`, `EGL_EXT_device_drm`, ...).
    pub(super) fn extensions(self) -> Option<String> {
        self.string(EGL_EXTENSIONS)
    }

    /// The DRM render node (EGL_EXT_device_drm_render_node), else the primary node.
    pub(super) fn drm_node(self) -> Option<String> {
        self.string(EGL_DRM_RENDER_NODE_FILE_EXT)
            .or_else(|| self.string(EGL_DRM_DEVICE_FILE_EXT))
    }

    /// The display of this device (EGL_EXT_platform_device).
    pub(super) fn display(self) -> Result<Display, EglError> {
        let attributes = [EGL_NONE];
        // SAFETY: the device platform takes an EGLDeviceEXT as its native display; the
        // attribute list is terminated.
        let raw = unsafe {
            (self.platform.get_platform_display)(
                EGL_PLATFORM_DEVICE_EXT,
                self.raw,
                attributes.as_ptr(),
            )
        };
        self.egl
            .display(raw, "eglGetPlatformDisplayEXT(EGL_PLATFORM_DEVICE_EXT)")
    }
}

/// An `EGLDisplay`. Never terminated: another display may share its driver state, and the
/// worker leaves without teardown anyway.
#[derive(Clone, Copy)]
pub(super) struct Display {
    egl: Egl,
    raw: Handle,
}

impl fmt::Debug for Display {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Display({:p})", self.raw)
    }
}

/// Which client API a context is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum ClientApi {
    /// OpenGL ES 3 (or 2 where 3 is refused).
    Gles,
    /// Desktop OpenGL, default (compatibility) profile.
    OpenGl,
}

impl Display {
    /// `eglInitialize`: the EGL version as (major, minor).
    pub(super) fn initialize(self) -> Result<(EglInt, EglInt), EglError> {
        let (mut major, mut minor) = (0, 0);
        // SAFETY: `raw` is a display from eglGetPlatformDisplayEXT; both outputs are writable.
        let ok = unsafe { (self.egl.0.initialize)(self.raw, &mut major, &mut minor) };
        if ok == EGL_FALSE {
            return Err(self.egl.error("eglInitialize"));
        }
        Ok((major, minor))
    }

    fn string(self, name: EglInt) -> Option<String> {
        // SAFETY: an initialised display; the result is NULL or a string owned by it.
        unsafe { owned((self.egl.0.query_string)(self.raw, name)) }
    }

    pub(super) fn vendor(self) -> Option<String> {
        self.string(EGL_VENDOR)
    }

    /// The canonical path of the vendor library behind this display: libglvnd hands
    /// `eglQueryString` to the vendor that owns the display, whose answer is its own static
    /// string, so the file holding the `EGL_VENDOR` string is that vendor.
    pub(super) fn vendor_library(self) -> Option<std::path::PathBuf> {
        // SAFETY: an initialised display; the result is NULL or a string owned by it, whose
        // address is only compared with loaded objects' ranges.
        let vendor = unsafe { (self.egl.0.query_string)(self.raw, EGL_VENDOR) };
        crate::sys::file_containing(vendor as usize)
    }

    pub(super) fn version(self) -> Option<String> {
        self.string(EGL_VERSION)
    }

    pub(super) fn client_apis(self) -> Option<String> {
        self.string(EGL_CLIENT_APIS)
    }

    pub(super) fn extensions(self) -> Option<String> {
        self.string(EGL_EXTENSIONS)
    }

    /// Creates a context for `api` and makes it current on this thread: without a surface
    /// when `surfaceless` (EGL_KHR_surfaceless_context), else on a 1×1 pbuffer.
    pub(super) fn context(self, api: ClientApi, surfaceless: bool) -> Result<Context, EglError> {
        let egl = self.egl;
        let (api_enum, renderable) = match api {
            ClientApi::Gles => (EGL_OPENGL_ES_API, EGL_OPENGL_ES2_BIT),
            ClientApi::OpenGl => (EGL_OPENGL_API, EGL_OPENGL_BIT),
        };
        // SAFETY: eglBindAPI takes an enum and sets this thread's current API.
        if unsafe { (egl.0.bind_api)(api_enum) } == EGL_FALSE {
            return Err(egl.error("eglBindAPI"));
        }
        // A surfaceless context needs no surface type; mask 0 matches every config.
        let surface_type = if surfaceless { 0 } else { EGL_PBUFFER_BIT };
        let attempts: &[(EglInt, &[EglInt])] = match api {
            ClientApi::Gles => &[
                (
                    EGL_OPENGL_ES3_BIT,
                    &[EGL_CONTEXT_MAJOR_VERSION, 3, EGL_NONE],
                ),
                (renderable, &[EGL_CONTEXT_MAJOR_VERSION, 2, EGL_NONE]),
            ],
            ClientApi::OpenGl => &[(renderable, &[EGL_NONE])],
        };
        let mut last = None;
        for &(renderable, context_attributes) in attempts {
            let config_attributes = [
                EGL_RENDERABLE_TYPE,
                renderable,
                EGL_SURFACE_TYPE,
                surface_type,
                EGL_NONE,
            ];
            let mut config: Handle = ptr::null_mut();
            let mut count: EglInt = 0;
            // SAFETY: a terminated attribute list, room for one config, a writable count.
            let ok = unsafe {
                (egl.0.choose_config)(
                    self.raw,
                    config_attributes.as_ptr(),
                    &mut config,
                    1,
                    &mut count,
                )
            };
            if ok == EGL_FALSE {
                last = Some(egl.error("eglChooseConfig"));
                continue;
            }
            if count < 1 {
                last = Some(egl_error(
                    "eglChooseConfig (no matching config)",
                    EGL_SUCCESS,
                ));
                continue;
            }
            // SAFETY: `config` came from eglChooseConfig on this display; no shared context;
            // the attribute list is terminated.
            let raw = unsafe {
                (egl.0.create_context)(
                    self.raw,
                    config,
                    ptr::null_mut(),
                    context_attributes.as_ptr(),
                )
            };
            if raw.is_null() {
                last = Some(egl.error("eglCreateContext"));
                continue;
            }
            let mut context = Context {
                display: self,
                raw,
                surface: ptr::null_mut(),
                current: false,
            };
            if !surfaceless {
                let pbuffer = [EGL_WIDTH, 1, EGL_HEIGHT, 1, EGL_NONE];
                // SAFETY: a config of this display with the pbuffer bit; terminated list.
                context.surface =
                    unsafe { (egl.0.create_pbuffer_surface)(self.raw, config, pbuffer.as_ptr()) };
                if context.surface.is_null() {
                    return Err(egl.error("eglCreatePbufferSurface"));
                }
            }
            // SAFETY: context and surface (or EGL_NO_SURFACE for a surfaceless context) belong
            // to this display.
            let ok = unsafe {
                (egl.0.make_current)(self.raw, context.surface, context.surface, context.raw)
            };
            if ok == EGL_FALSE {
                return Err(egl.error("eglMakeCurrent"));
            }
            context.current = true;
            return Ok(context);
        }
        Err(last.unwrap_or(egl_error("eglCreateContext", EGL_SUCCESS)))
    }
}

/// A context current on this thread; released, and destroyed with its surface, on drop.
pub(super) struct Context {
    display: Display,
    raw: Handle,
    surface: Handle,
    current: bool,
}

impl fmt::Debug for Context {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Context({:p})", self.raw)
    }
}

impl Drop for Context {
    fn drop(&mut self) {
        let api = self.display.egl.0;
        let display = self.display.raw;
        // SAFETY: releasing the current context, then destroying objects this struct created
        // on `display`; failures leave nothing the probe uses again.
        unsafe {
            if self.current {
                (api.make_current)(display, ptr::null_mut(), ptr::null_mut(), ptr::null_mut());
            }
            if !self.surface.is_null() {
                (api.destroy_surface)(display, self.surface);
            }
            (api.destroy_context)(display, self.raw);
        }
    }
}

impl Context {
    /// The GL entry points, found while this context is current.
    pub(super) fn gl(&self) -> Result<Gl<'_>, GlError> {
        Gl::load(self)
    }
}

type GlEnum = u32;
type GlUint = u32;
type GlInt = i32;
type GlSizei = i32;

pub(super) const GL_VENDOR: GlEnum = 0x1F00;
pub(super) const GL_RENDERER: GlEnum = 0x1F01;
pub(super) const GL_VERSION: GlEnum = 0x1F02;
pub(super) const GL_SHADING_LANGUAGE_VERSION: GlEnum = 0x8B8C;
const GL_NO_ERROR: GlEnum = 0;
const GL_FRAMEBUFFER: GlEnum = 0x8D40;
const GL_RENDERBUFFER: GlEnum = 0x8D41;
const GL_RGBA8: GlEnum = 0x8058;
const GL_COLOR_ATTACHMENT0: GlEnum = 0x8CE0;
const GL_FRAMEBUFFER_COMPLETE: GlEnum = 0x8CD5;
const GL_COLOR_BUFFER_BIT: GlUint = 0x4000;
const GL_VERTEX_SHADER: GlEnum = 0x8B31;
const GL_FRAGMENT_SHADER: GlEnum = 0x8B30;
const GL_COMPILE_STATUS: GlEnum = 0x8B81;
const GL_LINK_STATUS: GlEnum = 0x8B82;
const GL_INFO_LOG_LENGTH: GlEnum = 0x8B84;
const GL_FLOAT: GlEnum = 0x1406;
const GL_TRIANGLE_STRIP: GlEnum = 0x0005;
const GL_RGBA: GlEnum = 0x1908;
const GL_UNSIGNED_BYTE: GlEnum = 0x1401;

/// A GL step that failed: the call and `glGetError`, or a shader's log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum GlError {
    /// An entry point `eglGetProcAddress` did not give.
    Missing(&'static str),
    /// A call that left a GL error (or a status other than the one wanted).
    Call(&'static str, u32),
    /// A shader that did not compile, or a program that did not link, with its info log.
    Build(&'static str, String),
}

impl fmt::Display for GlError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            GlError::Missing(name) => write!(f, "eglGetProcAddress gives no {name}"),
            GlError::Call(call, code) => write!(f, "{call} failed with {}", gl_error_name(*code)),
            GlError::Build(what, _) => write!(f, "{what} failed"),
        }
    }
}

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
struct GlApi {
    get_string: unsafe extern "C" fn(GlEnum) -> *const u8,
    get_error: unsafe extern "C" fn() -> GlEnum,
    gen_framebuffers: unsafe extern "C" fn(GlSizei, *mut GlUint),
    bind_framebuffer: unsafe extern "C" fn(GlEnum, GlUint),
    gen_renderbuffers: unsafe extern "C" fn(GlSizei, *mut GlUint),
    bind_renderbuffer: unsafe extern "C" fn(GlEnum, GlUint),
    renderbuffer_storage: unsafe extern "C" fn(GlEnum, GlEnum, GlSizei, GlSizei),
    framebuffer_renderbuffer: unsafe extern "C" fn(GlEnum, GlEnum, GlEnum, GlUint),
    check_framebuffer_status: unsafe extern "C" fn(GlEnum) -> GlEnum,
    viewport: unsafe extern "C" fn(GlInt, GlInt, GlSizei, GlSizei),
    clear_color: unsafe extern "C" fn(f32, f32, f32, f32),
    clear: unsafe extern "C" fn(GlUint),
    create_shader: unsafe extern "C" fn(GlEnum) -> GlUint,
    shader_source: unsafe extern "C" fn(GlUint, GlSizei, *const *const c_char, *const GlInt),
    compile_shader: unsafe extern "C" fn(GlUint),
    get_shader_iv: unsafe extern "C" fn(GlUint, GlEnum, *mut GlInt),
    get_shader_info_log: unsafe extern "C" fn(GlUint, GlSizei, *mut GlSizei, *mut c_char),
    create_program: unsafe extern "C" fn() -> GlUint,
    attach_shader: unsafe extern "C" fn(GlUint, GlUint),
    bind_attrib_location: unsafe extern "C" fn(GlUint, GlUint, *const c_char),
    link_program: unsafe extern "C" fn(GlUint),
    get_program_iv: unsafe extern "C" fn(GlUint, GlEnum, *mut GlInt),
    get_program_info_log: unsafe extern "C" fn(GlUint, GlSizei, *mut GlSizei, *mut c_char),
    use_program: unsafe extern "C" fn(GlUint),
    enable_vertex_attrib_array: unsafe extern "C" fn(GlUint),
    vertex_attrib_pointer: unsafe extern "C" fn(GlUint, GlInt, GlEnum, u8, GlSizei, *const c_void),
    draw_arrays: unsafe extern "C" fn(GlEnum, GlInt, GlSizei),
    read_pixels: unsafe extern "C" fn(GlInt, GlInt, GlSizei, GlSizei, GlEnum, GlEnum, *mut c_void),
    finish: unsafe extern "C" fn(),
}

/// Looks `$name` up with eglGetProcAddress, as the type of the field it is assigned to.
macro_rules! gl_proc {
    ($egl:expr, $name:literal) => {{
        let address = $egl.proc_address(
            CStr::from_bytes_with_nul(concat!($name, "\0").as_bytes()).expect("literal"),
        );
        if address.is_null() {
            return Err(GlError::Missing($name));
        }
        // SAFETY: a non-NULL address eglGetProcAddress gave for `$name`, used as the
        // signature gl2.h declares for it (the field's type).
        unsafe { function_pointer(address) }
    }};
}

/// `address` as the function pointer type `F`.
///
/// # Safety
/// `address` is non-NULL and the entry point there has the signature `F` declares.
unsafe fn function_pointer<F: Copy>(address: *mut c_void) -> F {
    const { assert!(std::mem::size_of::<F>() == std::mem::size_of::<*mut c_void>()) };
    // SAFETY: same size (asserted above); the caller vouches for the signature.
    unsafe { std::mem::transmute_copy::<*mut c_void, F>(&address) }
}

/// The GL functions of the current context; borrowing the context keeps it current.
pub(super) struct Gl<'a> {
    api: GlApi,
    _context: &'a Context,
}

impl fmt::Debug for Gl<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Gl")
    }
}

/// Width and height of the validation's renderbuffer.
pub(super) const TARGET_SIDE: i32 = 64;

impl<'a> Gl<'a> {
    fn load(context: &'a Context) -> Result<Gl<'a>, GlError> {
        let egl = context.display.egl;
        let api = GlApi {
            get_string: gl_proc!(egl, "glGetString"),
            get_error: gl_proc!(egl, "glGetError"),
            gen_framebuffers: gl_proc!(egl, "glGenFramebuffers"),
            bind_framebuffer: gl_proc!(egl, "glBindFramebuffer"),
            gen_renderbuffers: gl_proc!(egl, "glGenRenderbuffers"),
            bind_renderbuffer: gl_proc!(egl, "glBindRenderbuffer"),
            renderbuffer_storage: gl_proc!(egl, "glRenderbufferStorage"),
            framebuffer_renderbuffer: gl_proc!(egl, "glFramebufferRenderbuffer"),
            check_framebuffer_status: gl_proc!(egl, "glCheckFramebufferStatus"),
            viewport: gl_proc!(egl, "glViewport"),
            clear_color: gl_proc!(egl, "glClearColor"),
            clear: gl_proc!(egl, "glClear"),
            create_shader: gl_proc!(egl, "glCreateShader"),
            shader_source: gl_proc!(egl, "glShaderSource"),
            compile_shader: gl_proc!(egl, "glCompileShader"),
            get_shader_iv: gl_proc!(egl, "glGetShaderiv"),
            get_shader_info_log: gl_proc!(egl, "glGetShaderInfoLog"),
            create_program: gl_proc!(egl, "glCreateProgram"),
            attach_shader: gl_proc!(egl, "glAttachShader"),
            bind_attrib_location: gl_proc!(egl, "glBindAttribLocation"),
            link_program: gl_proc!(egl, "glLinkProgram"),
            get_program_iv: gl_proc!(egl, "glGetProgramiv"),
            get_program_info_log: gl_proc!(egl, "glGetProgramInfoLog"),
            use_program: gl_proc!(egl, "glUseProgram"),
            enable_vertex_attrib_array: gl_proc!(egl, "glEnableVertexAttribArray"),
            vertex_attrib_pointer: gl_proc!(egl, "glVertexAttribPointer"),
            draw_arrays: gl_proc!(egl, "glDrawArrays"),
            read_pixels: gl_proc!(egl, "glReadPixels"),
            finish: gl_proc!(egl, "glFinish"),
        };
        Ok(Gl {
            api,
            _context: context,
        })
    }

    /// `glGetString(name)`, `None` when the context gives none.
    pub(super) fn string(&self, name: GlEnum) -> Option<String> {
        // SAFETY: a current context; the result is NULL or a static NUL-terminated string.
        unsafe { owned((self.api.get_string)(name).cast()) }
    }

    fn check(&self, call: &'static str) -> Result<(), GlError> {
        // SAFETY: a current context.
        match unsafe { (self.api.get_error)() } {
            GL_NO_ERROR => Ok(()),
            code => Err(GlError::Call(call, code)),
        }
    }

    /// Binds a new framebuffer with a TARGET_SIDE² RGBA8 colour renderbuffer.
    pub(super) fn framebuffer(&self) -> Result<(), GlError> {
        let (mut framebuffer, mut renderbuffer) = (0, 0);
        // SAFETY: a current context; each output is one writable name; the objects are freed
        // with the context.
        unsafe {
            (self.api.gen_framebuffers)(1, &mut framebuffer);
            (self.api.bind_framebuffer)(GL_FRAMEBUFFER, framebuffer);
            (self.api.gen_renderbuffers)(1, &mut renderbuffer);
            (self.api.bind_renderbuffer)(GL_RENDERBUFFER, renderbuffer);
            (self.api.renderbuffer_storage)(GL_RENDERBUFFER, GL_RGBA8, TARGET_SIDE, TARGET_SIDE);
        }
        self.check("glRenderbufferStorage")?;
        // SAFETY: a current context with the framebuffer and renderbuffer bound above.
        let status = unsafe {
            (self.api.framebuffer_renderbuffer)(
                GL_FRAMEBUFFER,
                GL_COLOR_ATTACHMENT0,
                GL_RENDERBUFFER,
                renderbuffer,
            );
            (self.api.check_framebuffer_status)(GL_FRAMEBUFFER)
        };
        if status != GL_FRAMEBUFFER_COMPLETE {
            return Err(GlError::Call("glCheckFramebufferStatus", status));
        }
        // SAFETY: a current context.
        unsafe { (self.api.viewport)(0, 0, TARGET_SIDE, TARGET_SIDE) };
        self.check("glViewport")
    }

    /// Clears the bound framebuffer to `rgba`.
    pub(super) fn clear(&self, rgba: [f32; 4]) -> Result<(), GlError> {
        // SAFETY: a current context.
        unsafe {
            (self.api.clear_color)(rgba[0], rgba[1], rgba[2], rgba[3]);
            (self.api.clear)(GL_COLOR_BUFFER_BIT);
        }
        self.check("glClear")
    }

    fn shader(&self, kind: GlEnum, what: &'static str, source: &str) -> Result<GlUint, GlError> {
        let source = CString::new(source)
            .map_err(|_| GlError::Build(what, "the source contains a NUL byte".to_owned()))?;
        let pointer = source.as_ptr();
        let (mut status, mut length) = (0, 0);
        // SAFETY: a current context; one NUL-terminated source (NULL lengths); the outputs
        // are writable.
        let shader = unsafe {
            let shader = (self.api.create_shader)(kind);
            (self.api.shader_source)(shader, 1, &pointer, ptr::null());
            (self.api.compile_shader)(shader);
            (self.api.get_shader_iv)(shader, GL_COMPILE_STATUS, &mut status);
            (self.api.get_shader_iv)(shader, GL_INFO_LOG_LENGTH, &mut length);
            shader
        };
        if status == 0 {
            let log = self.info_log(length, |size, written, buffer| {
                // SAFETY: `buffer` has room for `size` bytes, as `info_log` guarantees.
                unsafe { (self.api.get_shader_info_log)(shader, size, written, buffer) }
            });
            return Err(GlError::Build(what, log));
        }
        Ok(shader)
    }

    fn info_log(
        &self,
        length: GlInt,
        read: impl FnOnce(GlSizei, *mut GlSizei, *mut c_char),
    ) -> String {
        let size = length.clamp(1, 1 << 16);
        let mut buffer = vec![0u8; size as usize];
        let mut written: GlSizei = 0;
        read(size, &mut written, buffer.as_mut_ptr().cast());
        buffer.truncate(written.clamp(0, size) as usize);
        String::from_utf8_lossy(&buffer).into_owned()
    }

    /// Compiles and links the two shaders, with the vertex attribute `position` at location 0,
    /// and makes the program current.
    pub(super) fn program(&self, vertex: &str, fragment: &str) -> Result<(), GlError> {
        let vertex = self.shader(GL_VERTEX_SHADER, "compiling the vertex shader", vertex)?;
        let fragment = self.shader(
            GL_FRAGMENT_SHADER,
            "compiling the fragment shader",
            fragment,
        )?;
        let (mut status, mut length) = (0, 0);
        // SAFETY: a current context; shaders compiled above; a NUL-terminated attribute name;
        // writable outputs.
        let program = unsafe {
            let program = (self.api.create_program)();
            (self.api.attach_shader)(program, vertex);
            (self.api.attach_shader)(program, fragment);
            (self.api.bind_attrib_location)(program, 0, c"position".as_ptr());
            (self.api.link_program)(program);
            (self.api.get_program_iv)(program, GL_LINK_STATUS, &mut status);
            (self.api.get_program_iv)(program, GL_INFO_LOG_LENGTH, &mut length);
            program
        };
        if status == 0 {
            let log = self.info_log(length, |size, written, buffer| {
                // SAFETY: `buffer` has room for `size` bytes, as `info_log` guarantees.
                unsafe { (self.api.get_program_info_log)(program, size, written, buffer) }
            });
            return Err(GlError::Build("linking the program", log));
        }
        // SAFETY: a current context and a linked program.
        unsafe { (self.api.use_program)(program) };
        self.check("glUseProgram")
    }

    /// Draws a triangle strip of 2D `positions` (attribute 0) from client memory.
    pub(super) fn draw_strip(&self, positions: &[[f32; 2]]) -> Result<(), GlError> {
        let count = GlSizei::try_from(positions.len())
            // 0x0501 is GL_INVALID_VALUE, what GL itself says of a count out of range.
            .map_err(|_| GlError::Call("glDrawArrays", 0x0501))?;
        // SAFETY: a current context with no array buffer bound, so the pointer is client
        // memory that outlives the draw (glFinish below waits for it).
        unsafe {
            (self.api.enable_vertex_attrib_array)(0);
            (self.api.vertex_attrib_pointer)(0, 2, GL_FLOAT, 0, 0, positions.as_ptr().cast());
            (self.api.draw_arrays)(GL_TRIANGLE_STRIP, 0, count);
            (self.api.finish)();
        }
        self.check("glDrawArrays")
    }

    /// The bound framebuffer's TARGET_SIDE² pixels as RGBA8, bottom row first.
    pub(super) fn read_pixels(&self) -> Result<Vec<u8>, GlError> {
        let side = TARGET_SIDE as usize;
        let mut pixels = vec![0u8; side * side * 4];
        // SAFETY: a current context; `pixels` holds exactly TARGET_SIDE² RGBA8 pixels with the
        // default pack alignment of 4 (rows of 256 bytes).
        unsafe {
            (self.api.read_pixels)(
                0,
                0,
                TARGET_SIDE,
                TARGET_SIDE,
                GL_RGBA,
                GL_UNSIGNED_BYTE,
                pixels.as_mut_ptr().cast(),
            );
        }
        self.check("glReadPixels")?;
        Ok(pixels)
    }
}
