//! The validation: render off-screen and compare every pixel with the image computed here.
//!
//! A framebuffer object with a [`TARGET_SIDE`]² RGBA8 renderbuffer is cleared to
//! [`CLEAR_RGBA`], then a quad over its left half is drawn with a fragment shader whose colour
//! depends on `gl_FragCoord`, so that rasterisation and shading really ran. The quad's edge is
//! the line x = 32 in window coordinates, between pixel centres, so no pixel is ambiguous.

use std::time::Instant;

use super::api::{ClientApi, Context, Gl, GlError, TARGET_SIDE};
use crate::kernels::build_log_excerpt;
use crate::model::{
    Device, Level, Reason, ReasonCode, Render, RenderApi, Status, Validation, ValidationKind,
};

/// Colour the framebuffer is cleared to, exactly representable in RGBA8.
const CLEAR_RGBA: [f32; 4] = [1.0, 0.0, 1.0, 1.0];
/// Largest per-channel difference accepted: float-to-unorm conversion may round either way.
pub(super) const TOLERANCE: u8 = 1;
/// The quad over the left half of the target, as a triangle strip in clip coordinates.
const LEFT_HALF: [[f32; 2]; 4] = [[-1.0, -1.0], [0.0, -1.0], [-1.0, 1.0], [0.0, 1.0]];

const VERTEX_BODY: &str = "attribute vec2 position;
void main() { gl_Position = vec4(position, 0.0, 1.0); }
";
/// Red and green step by 4 per pixel column and row (0..=252 over 64 pixels).
const FRAGMENT_BODY: &str = "void main() {
    vec2 p = floor(gl_FragCoord.xy);
    gl_FragColor = vec4(p.x * 4.0 / 255.0, p.y * 4.0 / 255.0, 64.0 / 255.0, 1.0);
}
";

/// The shaders for `api`: GLSL ES 1.00 runs on every ES 2 and ES 3 context; GLSL 1.10 on
/// every desktop context of the default (compatibility) profile.
pub(super) fn shaders(api: ClientApi) -> (String, String) {
    match api {
        ClientApi::Gles => (
            format!("#version 100\n{VERTEX_BODY}"),
            format!("#version 100\nprecision mediump float;\n{FRAGMENT_BODY}"),
        ),
        ClientApi::OpenGl => (
            format!("#version 110\n{VERTEX_BODY}"),
            format!("#version 110\n{FRAGMENT_BODY}"),
        ),
    }
}

/// The expected RGBA8 image, bottom row first as glReadPixels returns it.
pub(super) fn expected_image() -> Vec<u8> {
    let side = TARGET_SIDE as u32;
    let clear = CLEAR_RGBA.map(|c| (c * 255.0) as u8);
    let mut pixels = Vec::with_capacity((side * side * 4) as usize);
    for y in 0..side {
        for x in 0..side {
            if x < side / 2 {
                pixels.extend_from_slice(&[(x * 4) as u8, (y * 4) as u8, 64, 255]);
            } else {
                pixels.extend_from_slice(&clear);
            }
        }
    }
    pixels
}

/// Compares `got` with `want` pixel by pixel, as drawn through `api`: a pixel is off when a
/// channel differs by more than [`TOLERANCE`], or when it is missing from `got`.
pub(super) fn compare(api: RenderApi, want: &[u8], got: &[u8], elapsed_ms: f64) -> Validation {
    let pixels = want.len() / 4;
    let mut mismatched = pixels.saturating_sub(got.len() / 4);
    let mut max_channel_error = 0;
    for (w, g) in want.chunks_exact(4).zip(got.chunks_exact(4)) {
        let worst = w
            .iter()
            .zip(g)
            .map(|(w, g)| w.abs_diff(*g))
            .max()
            .unwrap_or(0);
        max_channel_error = max_channel_error.max(worst);
        mismatched += usize::from(worst > TOLERANCE);
    }
    Validation {
        kind: ValidationKind::Render(Render {
            api,
            pixels: pixels as u64,
            mismatched_pixels: Some(mismatched as u64),
            max_channel_error,
        }),
        passed: mismatched == 0 && want.len() == got.len(),
        elapsed_ms,
    }
}

/// Renders the image with the current context of `gl` and judges it.
pub(super) fn render(gl: &Gl<'_>, api: ClientApi) -> Result<Validation, GlError> {
    let started = Instant::now();
    let (vertex, fragment) = shaders(api);
    gl.framebuffer()?;
    gl.clear(CLEAR_RGBA)?;
    gl.program(&vertex, &fragment)?;
    gl.draw_strip(&LEFT_HALF)?;
    let pixels = gl.read_pixels()?;
    let elapsed_ms = started.elapsed().as_secs_f64() * 1e3;
    let api = match api {
        ClientApi::Gles => RenderApi::Gles,
        ClientApi::OpenGl => RenderApi::OpenGl,
    };
    Ok(compare(api, &expected_image(), &pixels, elapsed_ms))
}

/// Renders on one device with the contexts the probe made on it: OpenGL ES always, desktop
/// OpenGL too at level `full`.
pub(super) fn device(contexts: &[(ClientApi, Context)], level: Level, device: &mut Device) {
    for (api, context) in contexts {
        let kernel = match api {
            ClientApi::Gles => "render gles",
            ClientApi::OpenGl if level >= Level::Full => "render opengl",
            ClientApi::OpenGl => continue,
        };
        let outcome = context
            .make_current()
            .map_err(|error| {
                Reason::new(
                    ReasonCode::LaunchFailed,
                    format!("{kernel}: no context: {error}"),
                )
            })
            .and_then(|current| {
                let gl = current.gl().map_err(|e| gl_failure(kernel, e))?;
                render(&gl, *api).map_err(|e| gl_failure(kernel, e))
            });
        match outcome {
            Ok(validation) => device.validations.push(validation),
            Err(reason) => {
                device.status = Status::Failed;
                device.reason = Some(reason);
                return;
            }
        }
    }
    device.judge_validations();
}

/// Why a render gave no image: a shader that did not build, or a GL call that failed.
fn gl_failure(kernel: &str, error: GlError) -> Reason {
    match error {
        GlError::Build(what, log) => Reason::new(
            ReasonCode::BuildFailed,
            format!(
                "{kernel}: {what}; log: {}",
                build_log_excerpt(&log, "(empty)")
            ),
        ),
        other => Reason::new(ReasonCode::LaunchFailed, format!("{kernel}: {other}")),
    }
}
