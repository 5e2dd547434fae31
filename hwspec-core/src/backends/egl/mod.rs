//! Headless rendering through EGL (`libEGL.so.1`, libglvnd) with OpenGL ES and desktop OpenGL:
//! one device per EGL display, validated by rendering a small image off-screen.
//!
//! Displays come from EGL_EXT_platform_device (one per `EGLDeviceEXT`: every GPU, and Mesa's
//! software device), else from Mesa's surfaceless platform. Neither needs a window system, so
//! the probe works in a worker without `DISPLAY` or `WAYLAND_DISPLAY`. On each display an
//! OpenGL ES context (3, else 2) and, where the display offers it, a desktop OpenGL context are
//! made current without a surface (EGL_KHR_surfaceless_context, else on a 1×1 pbuffer) and
//! their strings read.
//!
//! What a device carries, for the capability reduction:
//! - `features`: `egl` (the display initialised), `gles` (an ES context reported a version),
//!   `opengl` (a desktop context reported a version);
//! - `api_version`: the OpenGL ES version, `X.Y`;
//! - `properties["egl_version"]`: the display's EGL version, `X.Y` (also the report's
//!   `runtime_version`, the highest over all displays);
//! - `properties["opengl_version"]`: the desktop OpenGL version, `X.Y`;
//! - `validations`: a `render` through OpenGL ES; at level `full` also one through desktop
//!   OpenGL, the same image.
//!
//! Each display gets one context per client API, made while reading its strings and reused
//! for that API's render (a context costs 1.5–2 ms to make).
//!
//! [`sys`] declares EGL and GL, [`api`] wraps them safely, [`validate`] draws and checks the
//! image, [`facts`] reads libglvnd's vendor files.

mod api;
mod facts;
mod sys;
mod validate;

#[cfg(test)]
mod tests;

use std::sync::Mutex;

use self::api::{ClientApi, Context, Display, Egl, EglDevice};
use self::sys::{
    EglError, EglInt, GL_RENDERER, GL_SHADING_LANGUAGE_VERSION, GL_VENDOR, GL_VERSION,
};
use crate::backends::common::driver_files as manifests;
use crate::backends::common::{capabilities, skeleton};
use crate::backends::{Backend, Variables};
use crate::model::Capability;
use crate::model::{BackendName, BackendReport, Device, DeviceKind, Level, ReasonCode, Status};
use crate::protocol::{Progress, Stage};

/// `eglGetError` after an `eglInitialize` that found nothing it can drive (Mesa on a device
/// without a usable driver, NVIDIA's EGL without a GPU): no device, not a broken driver.
const EGL_NOT_INITIALIZED: EglInt = 0x3001;

/// Display extensions worth a line in a device's properties; the full list runs to dozens.
const NOTABLE_EXTENSIONS: &[&str] = &[
    "EGL_KHR_surfaceless_context",
    "EGL_KHR_create_context",
    "EGL_KHR_no_config_context",
    "EGL_KHR_fence_sync",
    "EGL_KHR_image_base",
    "EGL_EXT_image_dma_buf_import",
    "EGL_EXT_image_dma_buf_import_modifiers",
    "EGL_MESA_image_dma_buf_export",
    "EGL_EXT_create_context_robustness",
    "EGL_ANDROID_native_fence_sync",
];

/// Substrings of `GL_RENDERER` that name a software rasteriser.
const SOFTWARE_RENDERERS: &[&str] = &["llvmpipe", "softpipe", "swrast", "swiftshader"];

/// Probes EGL through libglvnd.
#[derive(Debug)]
pub struct EglBackend;

impl Backend for EglBackend {
    fn probe(&self, level: Level, progress: &mut dyn Progress) -> BackendReport {
        probe_with(sys::EGL_SONAME, level, progress)
    }

    /// The EGL version, and the best OpenGL ES and desktop OpenGL versions rendered with.
    fn capabilities(&self, report: &BackendReport, proven: &[&Device]) -> Vec<Capability> {
        let opengl = proven
            .iter()
            .filter(|d| d.has_feature("opengl"))
            .filter_map(|d| d.properties.get("opengl_version").map(String::as_str));
        std::iter::once(capabilities::runtime("egl", report))
            .chain(capabilities::highest_api("gles", proven))
            .chain(capabilities::highest("opengl", opengl))
            .collect()
    }

    /// libglvnd's vendor variables, and Mesa's for its drivers.
    fn variables(&self) -> Variables {
        Variables {
            loaders: &[
                "__EGL_VENDOR_LIBRARY_",
                "MESA_",
                "LIBGL_",
                "GALLIUM_",
                "GBM_",
                "LP_",
            ],
            ..Variables::default()
        }
    }
}

/// Held for the whole of a probe ([`skeleton::exclusive`]).
static ONE_PROBE_AT_A_TIME: Mutex<()> = Mutex::new(());

/// Probes with `soname` as the EGL library's name; tests name a missing one.
fn probe_with(soname: &'static str, level: Level, progress: &mut dyn Progress) -> BackendReport {
    let _one_at_a_time = skeleton::exclusive(&ONE_PROBE_AT_A_TIME);
    progress.stage(Stage::Load);
    let egl = match Egl::open(soname) {
        Ok(egl) => egl,
        Err(error) => return error.report(BackendName::Egl, soname, "libEGL.so"),
    };
    let library = crate::sys::loaded_library("libEGL.so");
    let (vendors, unusable) = manifests::inspect(&facts::EGL_VENDORS, &facts::listed_here());

    // libglvnd loads its vendor libraries (Mesa's libEGL_mesa.so.0, NVIDIA's) on the first
    // query, so a vendor that hangs or crashes does so in this stage.
    progress.stage(Stage::Init);
    let client_extensions = egl.client_extensions().unwrap_or_default();
    let opened = open_displays(egl, &client_extensions);
    if opened.opened.is_empty() {
        let mut warnings = unusable;
        warnings.extend(manifests::dropped(
            &facts::EGL_VENDORS,
            &vendors,
            &[],
            Some(&[]),
        ));
        return BackendReport {
            library,
            warnings,
            ..no_display(&opened)
        };
    }
    let opened = opened.opened;
    // Which vendor made each display, to name the vendors that made none; only needed when
    // more vendor libraries loaded than there are distinct EGL vendors among the displays.
    let mut egl_vendors: Vec<Option<String>> = opened.iter().map(|o| o.display.vendor()).collect();
    egl_vendors.sort();
    egl_vendors.dedup();
    let traced: Vec<Option<std::path::PathBuf>> = if vendors.len() > egl_vendors.len() {
        opened.iter().map(|o| o.display.vendor_library()).collect()
    } else {
        Vec::new()
    };

    progress.stage(Stage::Enumerate);
    let mut report = BackendReport::new(BackendName::Egl, Status::Enumerated, None);
    report.library = library;
    report.warnings = unusable;
    report.warnings.extend(manifests::dropped(
        &facts::EGL_VENDORS,
        &vendors,
        &[],
        (!traced.is_empty()).then_some(traced.as_slice()),
    ));
    report.runtime_version = opened
        .iter()
        .map(|o| o.version)
        .max()
        .map(|(major, minor)| format!("{major}.{minor}"));
    report
        .properties
        .insert("platform".into(), opened[0].origin.platform().to_owned());
    report
        .properties
        .insert("displays".into(), opened.len().to_string());
    let contexts: Vec<Vec<(ClientApi, Context)>> = opened
        .iter()
        .map(|display| {
            let (device, contexts) = describe(display);
            report.devices.push(device);
            contexts
        })
        .collect();
    if !skeleton::enter_kernel_stage(&mut report, level, progress) {
        return report;
    }
    skeleton::validate_each(&mut report, &contexts, |contexts, device| {
        validate::device(contexts, level, device)
    });
    report
}

/// Where a display came from.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Origin {
    /// The EGL device of that index in `eglQueryDevicesEXT`'s list.
    Device {
        index: usize,
        extensions: Option<String>,
        drm_node: Option<String>,
    },
    /// Mesa's surfaceless platform.
    Surfaceless,
}

impl Origin {
    fn platform(&self) -> &'static str {
        match self {
            Origin::Device { .. } => "device",
            Origin::Surfaceless => "surfaceless",
        }
    }
}

/// An initialised display.
#[derive(Debug)]
struct Opened {
    origin: Origin,
    display: Display,
    version: (EglInt, EglInt),
}

/// Whether the space-separated extension list `list` holds `name`.
fn has_extension(list: &str, name: &str) -> bool {
    list.split_ascii_whitespace().any(|e| e == name)
}

/// What the search for displays found and tried.
#[derive(Debug, Default)]
struct Attempts {
    opened: Vec<Opened>,
    /// One line per display that did not initialise or source that gave none.
    tried: Vec<String>,
    /// Failures other than "nothing to drive here".
    errors: Vec<String>,
    /// `eglQueryDevicesEXT` answered with an empty list: there is no device to drive, so a
    /// failing surfaceless display (NVIDIA's EGL without a GPU: EGL_BAD_ALLOC) is that fact.
    no_device_listed: bool,
}

impl Attempts {
    fn initialise(&mut self, origin: Origin, display: Result<Display, EglError>) {
        let label = match &origin {
            Origin::Device { index, .. } => format!("EGL device {index}"),
            Origin::Surfaceless => "the surfaceless platform".to_owned(),
        };
        match display.and_then(|d| d.initialize().map(|version| (d, version))) {
            Ok((display, version)) => self.opened.push(Opened {
                origin,
                display,
                version,
            }),
            Err(error) => {
                self.tried.push(format!("{label}: {error}"));
                if error.code != i64::from(EGL_NOT_INITIALIZED) {
                    self.errors.push(format!("{label}: {error}"));
                }
            }
        }
    }
}

/// Finds and initialises the displays: every EGL device's, else the surfaceless platform's.
/// With none, [`no_display`] says what was tried and why each failed.
fn open_displays(egl: Egl, client_extensions: &str) -> Attempts {
    let mut attempts = Attempts::default();
    if has_extension(client_extensions, "EGL_EXT_platform_device") {
        match egl.devices() {
            Ok(devices) if devices.is_empty() => {
                attempts.no_device_listed = true;
                attempts
                    .tried
                    .push("eglQueryDevicesEXT lists no EGL device".to_owned());
            }
            Ok(devices) => {
                for (index, device) in devices.into_iter().enumerate() {
                    attempts.initialise(device_origin(index, device), device.display());
                }
            }
            Err(error) => {
                attempts.tried.push(error.to_string());
                attempts.errors.push(error.to_string());
            }
        }
    } else {
        attempts
            .tried
            .push("EGL_EXT_platform_device is not among the client extensions".to_owned());
    }
    if attempts.opened.is_empty() {
        if has_extension(client_extensions, "EGL_MESA_platform_surfaceless") {
            attempts.initialise(Origin::Surfaceless, egl.surfaceless_display());
        } else {
            attempts.tried.push(
                "EGL_MESA_platform_surfaceless is not among the client extensions".to_owned(),
            );
        }
    }
    attempts
}

/// The report when no display initialised: absent when nothing was there to drive, unusable
/// when EGL failed otherwise.
fn no_display(attempts: &Attempts) -> BackendReport {
    if attempts.errors.is_empty() || attempts.no_device_listed {
        BackendReport::absent(
            BackendName::Egl,
            ReasonCode::NoDevice,
            format!(
                "no EGL display initialises without a window system (tried: {})",
                attempts.tried.join("; ")
            ),
        )
    } else {
        BackendReport::unusable(
            BackendName::Egl,
            ReasonCode::DriverError,
            format!(
                "no EGL display could be used: {}",
                attempts.errors.join("; ")
            ),
        )
    }
}

fn device_origin(index: usize, device: EglDevice) -> Origin {
    Origin::Device {
        index,
        extensions: device.extensions(),
        drm_node: device.drm_node(),
    }
}

/// What one context reported.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
struct ContextStrings {
    vendor: Option<String>,
    renderer: Option<String>,
    version: Option<String>,
    shading_language: Option<String>,
}

/// Makes a context for `api` on `display`, reads its strings while it is current, and keeps
/// it for the render.
fn context_strings(
    display: Display,
    api: ClientApi,
    surfaceless: bool,
) -> (Option<Context>, Result<ContextStrings, String>) {
    let context = match display.context(api, surfaceless) {
        Ok(context) => context,
        Err(error) => return (None, Err(error.to_string())),
    };
    let strings = context
        .make_current()
        .map_err(|e| e.to_string())
        .and_then(|current| {
            let gl = current.gl().map_err(|e| e.to_string())?;
            Ok(ContextStrings {
                vendor: gl.string(GL_VENDOR),
                renderer: gl.string(GL_RENDERER),
                version: gl.string(GL_VERSION),
                shading_language: gl.string(GL_SHADING_LANGUAGE_VERSION),
            })
        });
    (Some(context), strings)
}

/// `X.Y` of a `GL_VERSION` string: `OpenGL ES 3.2 Mesa 22.3.6` gives `3.2`,
/// `4.5 (Compatibility Profile) Mesa 22.3.6` gives `4.5`.
fn parse_gl_version(version: &str) -> Option<String> {
    let rest = version
        .strip_prefix("OpenGL ES-CM ")
        .or_else(|| version.strip_prefix("OpenGL ES-CL "))
        .or_else(|| version.strip_prefix("OpenGL ES "))
        .unwrap_or(version);
    let number = rest.split_ascii_whitespace().next()?;
    let mut parts = number.split('.');
    let major: u32 = parts.next()?.parse().ok()?;
    let minor: String = parts
        .next()?
        .chars()
        .take_while(char::is_ascii_digit)
        .collect();
    let minor: u32 = minor.parse().ok()?;
    Some(format!("{major}.{minor}"))
}

/// Software when the renderer is a software rasteriser or the EGL device says it is one
/// (EGL_MESA_device_software); otherwise the display drives a GPU.
fn device_kind(renderer: &str, device_extensions: Option<&str>) -> DeviceKind {
    let renderer = renderer.to_ascii_lowercase();
    let software_renderer = SOFTWARE_RENDERERS.iter().any(|s| renderer.contains(s));
    let software_device =
        device_extensions.is_some_and(|e| has_extension(e, "EGL_MESA_device_software"));
    if software_renderer || software_device {
        DeviceKind::Software
    } else {
        DeviceKind::Gpu
    }
}

/// The device a display is, and the context of each client API that reported a version on it.
fn describe(opened: &Opened) -> (Device, Vec<(ClientApi, Context)>) {
    let display = opened.display;
    let extensions = display.extensions().unwrap_or_default();
    let client_apis = display.client_apis().unwrap_or_default().trim().to_owned();
    let surfaceless = has_extension(&extensions, "EGL_KHR_surfaceless_context");
    let (mut gles_context, gles) = context_strings(display, ClientApi::Gles, surfaceless);
    let (mut opengl_context, opengl) = if client_apis
        .split_ascii_whitespace()
        .any(|api| api == "OpenGL")
    {
        let (context, strings) = context_strings(display, ClientApi::OpenGl, surfaceless);
        (context, Some(strings))
    } else {
        (None, None)
    };
    let facts = DisplayFacts {
        origin: &opened.origin,
        version: opened.version,
        vendor: display.vendor(),
        version_string: display.version(),
        client_apis,
        extensions,
        surfaceless,
    };
    let (device, apis) = device_from(&facts, &gles, opengl.as_ref());
    let contexts = apis
        .into_iter()
        .filter_map(|api| {
            let context = match api {
                ClientApi::Gles => gles_context.take(),
                ClientApi::OpenGl => opengl_context.take(),
            };
            context.map(|context| (api, context))
        })
        .collect();
    (device, contexts)
}

/// What EGL said about a display.
#[derive(Debug)]
struct DisplayFacts<'a> {
    origin: &'a Origin,
    version: (EglInt, EglInt),
    vendor: Option<String>,
    version_string: Option<String>,
    client_apis: String,
    extensions: String,
    surfaceless: bool,
}

/// The report's view of a display and its contexts: pure, so that tests can feed it anything.
fn device_from(
    facts: &DisplayFacts<'_>,
    gles: &Result<ContextStrings, String>,
    opengl: Option<&Result<ContextStrings, String>>,
) -> (Device, Vec<ClientApi>) {
    let egl_vendor = facts.vendor.clone().unwrap_or_else(|| "unknown".to_owned());
    let device_extensions = match facts.origin {
        Origin::Device { extensions, .. } => extensions.as_deref(),
        Origin::Surfaceless => None,
    };
    let strings = gles.as_ref().ok();
    let renderer = strings.and_then(|s| s.renderer.clone());
    let name = renderer
        .clone()
        .unwrap_or_else(|| format!("EGL display ({egl_vendor})"));
    let vendor = strings
        .and_then(|s| s.vendor.clone())
        .unwrap_or_else(|| egl_vendor.clone());
    let mut device = Device::new(
        name,
        vendor,
        device_kind(renderer.as_deref().unwrap_or_default(), device_extensions),
    );
    let mut apis = Vec::new();
    device.features.push("egl".to_owned());
    let (major, minor) = facts.version;
    let props = &mut device.properties;
    props.insert("egl_version".into(), format!("{major}.{minor}"));
    props.insert("egl_vendor".into(), egl_vendor);
    if let Some(version) = &facts.version_string {
        props.insert("egl_version_string".into(), version.clone());
    }
    props.insert("egl_client_apis".into(), facts.client_apis.clone());
    let notable: Vec<&str> = facts
        .extensions
        .split_ascii_whitespace()
        .filter(|e| NOTABLE_EXTENSIONS.contains(e))
        .collect();
    props.insert("egl_extensions".into(), notable.join(" "));
    props.insert(
        "egl_extension_count".into(),
        facts
            .extensions
            .split_ascii_whitespace()
            .count()
            .to_string(),
    );
    props.insert("platform".into(), facts.origin.platform().to_owned());
    if let Origin::Device {
        index,
        extensions,
        drm_node,
    } = facts.origin
    {
        props.insert("egl_device".into(), index.to_string());
        if let Some(extensions) = extensions {
            props.insert("egl_device_extensions".into(), extensions.clone());
        }
        if let Some(node) = drm_node {
            props.insert("drm_node".into(), node.clone());
        }
    }
    let surface = if facts.surfaceless {
        "surfaceless"
    } else {
        "pbuffer"
    };
    props.insert("context_surface".into(), surface.to_owned());

    match gles {
        Ok(strings) => {
            if let Some(version) = &strings.version {
                props.insert("gles_version_string".into(), version.clone());
            }
            if let Some(glsl) = &strings.shading_language {
                props.insert("glsl_es_version".into(), glsl.clone());
            }
            device.driver_version = strings.version.clone();
            device.api_version = strings.version.as_deref().and_then(parse_gl_version);
            if device.api_version.is_some() {
                device.features.push("gles".to_owned());
                apis.push(ClientApi::Gles);
            } else {
                device.fail(
                    ReasonCode::DriverError,
                    format!(
                        "the OpenGL ES context reports no version it is possible to read \
                         (GL_VERSION {:?})",
                        strings.version
                    ),
                );
            }
        }
        Err(error) => device.fail(
            ReasonCode::LaunchFailed,
            format!("no OpenGL ES context on this display: {error}"),
        ),
    }
    match opengl {
        Some(Ok(strings)) => {
            let version = strings.version.as_deref().and_then(parse_gl_version);
            let props = &mut device.properties;
            if let Some(full) = &strings.version {
                props.insert("opengl_version_string".into(), full.clone());
            }
            if let Some(renderer) = &strings.renderer {
                props.insert("opengl_renderer".into(), renderer.clone());
            }
            if let Some(glsl) = &strings.shading_language {
                props.insert("glsl_version".into(), glsl.clone());
            }
            if let Some(version) = version {
                props.insert("opengl_version".into(), version);
                device.features.push("opengl".to_owned());
                apis.push(ClientApi::OpenGl);
            }
        }
        Some(Err(error)) => {
            device
                .properties
                .insert("opengl_error".into(), error.clone());
        }
        None => {}
    }
    (device, apis)
}
