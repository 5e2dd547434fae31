//! Safe wrappers over EGL and GL: the opened library, devices, displays, contexts that release
//! themselves on drop, and the GL calls of the validation, each failure an [`EglError`] or a
//! [`GlError`] naming the call.

// The wrappers are where the raw entry points of sys.rs are called.
#![allow(unsafe_code)]

use std::ffi::{c_char, c_void, CStr, CString};
use std::fmt;
use std::ptr;

use super::sys::*;
use crate::backends::common::{Library, LoadError};

/// The opened library; copies share one leaked [`Api`].
#[derive(Clone, Copy)]
pub(super) struct Egl(&'static Api);

impl fmt::Debug for Egl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Egl")
    }
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
        // SAFETY (the three): each address is what eglGetProcAddress gave for the extension
        // function of that name, used as the signature eglext.h declares for it (the field's
        // type); the first was checked non-NULL, NULL ones become `None`.
        Some(PlatformApi {
            // SAFETY: see above.
            get_platform_display: unsafe { function_pointer(get_platform_display) },
            // SAFETY: see above.
            query_devices: unsafe { optional_function_pointer(query_devices) },
            // SAFETY: see above.
            query_device_string: unsafe { optional_function_pointer(query_device_string) },
        })
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

impl ClientApi {
    fn egl_enum(self) -> EglEnum {
        match self {
            ClientApi::Gles => EGL_OPENGL_ES_API,
            ClientApi::OpenGl => EGL_OPENGL_API,
        }
    }
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

    /// Creates a context for `api`, to be made current without a surface when `surfaceless`
    /// (EGL_KHR_surfaceless_context), else on a 1×1 pbuffer of its own.
    pub(super) fn context(self, api: ClientApi, surfaceless: bool) -> Result<Context, EglError> {
        let egl = self.egl;
        let renderable = match api {
            ClientApi::Gles => EGL_OPENGL_ES2_BIT,
            ClientApi::OpenGl => EGL_OPENGL_BIT,
        };
        bind_api(egl, api)?;
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
            #[cfg(test)]
            CONTEXTS_CREATED.with(|count| count.set(count.get() + 1));
            let mut context = Context {
                display: self,
                api,
                raw,
                surface: ptr::null_mut(),
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
            return Ok(context);
        }
        Err(last.unwrap_or(egl_error("eglCreateContext", EGL_SUCCESS)))
    }
}

#[cfg(test)]
thread_local! {
    /// How many contexts this thread created: the probe runs on its caller's thread, so a test
    /// counts a probe's contexts without seeing other tests'.
    static CONTEXTS_CREATED: std::cell::Cell<usize> = const { std::cell::Cell::new(0) };
}

/// How many EGL contexts this thread has created so far.
#[cfg(test)]
pub(super) fn contexts_created() -> usize {
    CONTEXTS_CREATED.with(std::cell::Cell::get)
}

/// A context for one client API on a display, with its pbuffer when it needs one; made current
/// for as long as a [`Current`] lives, destroyed with its surface on drop.
pub(super) struct Context {
    display: Display,
    api: ClientApi,
    raw: Handle,
    surface: Handle,
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
        // SAFETY: destroying objects this struct created on `display` and no longer current
        // (a `Current` borrows the context); failures leave nothing the probe uses again.
        unsafe {
            if !self.surface.is_null() {
                (api.destroy_surface)(display, self.surface);
            }
            (api.destroy_context)(display, self.raw);
        }
    }
}

impl Context {
    /// Makes the context current on this thread until the returned guard is dropped.
    pub(super) fn make_current(&self) -> Result<Current<'_>, EglError> {
        let egl = self.display.egl;
        bind_api(egl, self.api)?;
        // SAFETY: context and surface (or EGL_NO_SURFACE for a surfaceless context) belong
        // to this display.
        let ok =
            unsafe { (egl.0.make_current)(self.display.raw, self.surface, self.surface, self.raw) };
        if ok == EGL_FALSE {
            return Err(egl.error("eglMakeCurrent"));
        }
        Ok(Current { context: self })
    }
}

/// `eglBindAPI` for `api`: the API whose context EGL creates, makes current or releases next.
fn bind_api(egl: Egl, api: ClientApi) -> Result<(), EglError> {
    // SAFETY: eglBindAPI takes an enum and sets this thread's current API.
    if unsafe { (egl.0.bind_api)(api.egl_enum()) } == EGL_FALSE {
        return Err(egl.error("eglBindAPI"));
    }
    Ok(())
}

/// A context current on this thread; released on drop.
pub(super) struct Current<'a> {
    context: &'a Context,
}

impl fmt::Debug for Current<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Current({:?})", self.context)
    }
}

impl Drop for Current<'_> {
    fn drop(&mut self) {
        let display = self.context.display;
        // Releasing applies to the current API's context, so the context's API is bound
        // first; a failure leaves a context current that the next make_current replaces.
        if bind_api(display.egl, self.context.api).is_ok() {
            // SAFETY: releasing this thread's context of the bound API on its display.
            unsafe {
                (display.egl.0.make_current)(
                    display.raw,
                    ptr::null_mut(),
                    ptr::null_mut(),
                    ptr::null_mut(),
                );
            }
        }
    }
}

impl Current<'_> {
    /// The GL entry points, found while this context is current.
    pub(super) fn gl(&self) -> Result<Gl<'_>, GlError> {
        Gl::load(self)
    }
}

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

/// The GL functions of the current context; borrowing the context keeps it current.
pub(super) struct Gl<'a> {
    api: GlApi,
    _current: &'a Current<'a>,
}

impl fmt::Debug for Gl<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Gl")
    }
}

/// Width and height of the validation's renderbuffer.
pub(super) const TARGET_SIDE: i32 = 64;

impl<'a> Gl<'a> {
    fn load(current: &'a Current<'a>) -> Result<Gl<'a>, GlError> {
        let egl = current.context.display.egl;
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
            _current: current,
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
