use super::facts::listed;
use super::sys::egl_error;
use super::validate::{compare, expected_image, shaders, TOLERANCE};
use super::*;
use crate::backends::conformance;
use crate::model::{Render, RenderApi, ValidationKind};
use crate::protocol::{NoProgress, Recorder};
use std::path::Path;

#[test]
fn gl_versions_parse_from_es_and_desktop_strings() {
    let cases = [
        ("OpenGL ES 3.2 Mesa 22.3.6", Some("3.2")),
        ("OpenGL ES 2.0 Mesa 22.3.6", Some("2.0")),
        ("OpenGL ES 3.2 NVIDIA 535.183.01", Some("3.2")),
        ("OpenGL ES-CM 1.1 Mesa 22.3.6", Some("1.1")),
        ("4.5 (Compatibility Profile) Mesa 22.3.6", Some("4.5")),
        ("4.6.0 NVIDIA 535.183.01", Some("4.6")),
        ("3.3", Some("3.3")),
        ("OpenGL ES", None),
        ("", None),
        ("version four", None),
    ];
    for (string, want) in cases {
        assert_eq!(parse_gl_version(string).as_deref(), want, "{string:?}");
    }
}

#[test]
fn software_rasterisers_and_software_devices_are_software() {
    for renderer in [
        "llvmpipe (LLVM 15.0.6, 256 bits)",
        "softpipe",
        "Software Rasterizer (swrast)",
        "Google SwiftShader",
    ] {
        assert_eq!(
            device_kind(renderer, None),
            DeviceKind::Software,
            "{renderer}"
        );
    }
    let software = Some("EGL_MESA_device_software EGL_EXT_device_drm_render_node");
    assert_eq!(device_kind("", software), DeviceKind::Software);
    let gpu = Some("EGL_EXT_device_drm EGL_EXT_device_drm_render_node");
    assert_eq!(
        device_kind(
            "AMD Radeon RX 7900 XTX (radeonsi, navi31, LLVM 15.0.6)",
            gpu
        ),
        DeviceKind::Gpu
    );
    assert_eq!(
        device_kind("NVIDIA H100 80GB HBM3/PCIe/SSE2", None),
        DeviceKind::Gpu
    );
}

#[test]
fn extensions_match_whole_names_only() {
    let list = "EGL_KHR_surfaceless_context EGL_KHR_create_context_no_error";
    assert!(has_extension(list, "EGL_KHR_surfaceless_context"));
    assert!(!has_extension(list, "EGL_KHR_create_context"));
}

fn strings(renderer: &str, version: &str) -> ContextStrings {
    ContextStrings {
        vendor: Some("Mesa".into()),
        renderer: Some(renderer.into()),
        version: Some(version.into()),
        shading_language: Some("4.50".into()),
    }
}

fn facts(origin: &Origin) -> DisplayFacts<'_> {
    DisplayFacts {
        origin,
        version: (1, 5),
        vendor: Some("Mesa Project".into()),
        version_string: Some("1.5".into()),
        client_apis: "OpenGL OpenGL_ES".into(),
        extensions: "EGL_KHR_surfaceless_context EGL_KHR_image_pixmap".into(),
        surfaceless: true,
    }
}

/// The fields the capability reduction reads: `egl`, `gles`, `opengl` features,
/// `api_version` (GLES), `properties["egl_version"]` and `properties["opengl_version"]`.
#[test]
fn device_facts_come_from_the_display_and_both_contexts() {
    let origin = Origin::Device {
        index: 1,
        extensions: Some("EGL_EXT_device_drm".into()),
        drm_node: Some("/dev/dri/renderD128".into()),
    };
    let gles = Ok(strings("AMD Radeon Pro W7900", "OpenGL ES 3.2 Mesa 22.3.6"));
    let gl = Ok(strings(
        "AMD Radeon Pro W7900",
        "4.6 (Compatibility Profile) Mesa 22.3.6",
    ));
    let (device, apis) = device_from(&facts(&origin), &gles, Some(&gl));
    assert_eq!(apis, [ClientApi::Gles, ClientApi::OpenGl]);
    assert_eq!(device.name, "AMD Radeon Pro W7900");
    assert_eq!(device.vendor, "Mesa");
    assert_eq!(device.kind, DeviceKind::Gpu);
    assert_eq!(device.status, Status::Enumerated);
    assert_eq!(device.api_version.as_deref(), Some("3.2"));
    assert_eq!(device.features, ["egl", "gles", "opengl"]);
    let p = &device.properties;
    assert_eq!(p["egl_version"], "1.5");
    assert_eq!(p["opengl_version"], "4.6");
    assert_eq!(p["drm_node"], "/dev/dri/renderD128");
    assert_eq!(p["egl_device"], "1");
    assert_eq!(p["platform"], "device");
    assert_eq!(p["egl_extensions"], "EGL_KHR_surfaceless_context");
    assert_eq!(p["egl_extension_count"], "2");
    assert_eq!(p["context_surface"], "surfaceless");
}

#[test]
fn a_display_without_an_es_context_fails_and_without_desktop_gl_lacks_opengl() {
    let gles = Err("eglCreateContext failed with EGL_BAD_MATCH".to_owned());
    let gl = Err("eglBindAPI failed with EGL_BAD_PARAMETER".to_owned());
    let (device, apis) = device_from(&facts(&Origin::Surfaceless), &gles, Some(&gl));
    assert!(apis.is_empty());
    assert_eq!(device.name, "EGL display (Mesa Project)");
    assert_eq!(device.status, Status::Failed);
    let reason = device.reason.unwrap();
    assert_eq!(reason.code, ReasonCode::LaunchFailed);
    assert!(
        reason.message.contains("EGL_BAD_MATCH"),
        "{}",
        reason.message
    );
    assert_eq!(device.features, ["egl"]);
    assert!(device.properties["opengl_error"].contains("EGL_BAD_PARAMETER"));
    assert!(!device.properties.contains_key("drm_node"));
}

#[test]
fn egl_errors_are_named() {
    let error = egl_error("eglInitialize", 0x3001);
    assert_eq!(
        error.to_string(),
        "eglInitialize failed with EGL_NOT_INITIALIZED (0x3001)"
    );
    let unknown = egl_error("eglInitialize", 0x1234);
    assert!(unknown.to_string().contains("0x1234"), "{unknown}");
}

#[test]
fn no_display_is_absent_unless_egl_failed_otherwise() {
    let mut attempts = Attempts::default();
    attempts
        .tried
        .push("EGL device 0: eglInitialize failed with EGL_NOT_INITIALIZED".into());
    let report = no_display(&attempts);
    assert_eq!(report.status, Status::Absent);
    let reason = report.reason.unwrap();
    assert_eq!(reason.code, ReasonCode::NoDevice);
    assert!(
        reason.message.contains("EGL device 0"),
        "{}",
        reason.message
    );

    attempts
        .errors
        .push("eglQueryDevicesEXT failed with EGL_BAD_ALLOC".into());
    let report = no_display(&attempts);
    assert_eq!(report.status, Status::Unusable);
    let reason = report.reason.unwrap();
    assert_eq!(reason.code, ReasonCode::DriverError);
    assert!(
        reason.message.contains("EGL_BAD_ALLOC"),
        "{}",
        reason.message
    );
}

#[test]
fn the_expected_image_is_a_gradient_left_and_the_clear_colour_right() {
    let image = expected_image();
    assert_eq!(image.len(), 64 * 64 * 4);
    let pixel = |x: usize, y: usize| &image[(y * 64 + x) * 4..][..4];
    assert_eq!(pixel(0, 0), [0, 0, 64, 255]);
    assert_eq!(pixel(31, 63), [124, 252, 64, 255]);
    assert_eq!(pixel(32, 0), [255, 0, 255, 255]);
    let (vertex, fragment) = shaders(ClientApi::Gles);
    assert!(vertex.starts_with("#version 100\n"));
    assert!(fragment.contains("gl_FragCoord"));
    assert!(shaders(ClientApi::OpenGl).1.starts_with("#version 110\n"));
}

fn judged(validation: &crate::model::Validation) -> (bool, Option<u64>, u8) {
    match &validation.kind {
        ValidationKind::Render(render) => {
            assert_eq!(render.pixels, 64 * 64);
            (
                validation.passed,
                render.mismatched_pixels,
                render.max_channel_error,
            )
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn pixels_within_one_unit_pass_and_others_fail() {
    let want = expected_image();
    let mut got = want.clone();
    got[5] = got[5].saturating_add(TOLERANCE);
    let close = compare(RenderApi::Gles, &want, &got, 1.0);
    assert_eq!(judged(&close), (true, Some(0), TOLERANCE));
    got[9] = got[9].wrapping_add(40);
    got[10] = got[10].wrapping_add(2);
    got[100] = got[100].wrapping_add(3);
    let wrong = compare(RenderApi::OpenGl, &want, &got, 1.0);
    assert_eq!(
        judged(&wrong),
        (false, Some(2), 40),
        "pixels 2 and 25 are off"
    );
    let short = compare(RenderApi::Gles, &want, &want[..16], 1.0);
    assert_eq!(judged(&short), (false, Some(64 * 64 - 4), 0));
}

#[test]
fn egl_is_opened_by_its_versioned_soname() {
    assert_eq!(sys::EGL_SONAME, "libEGL.so.1");
}

#[test]
fn a_missing_egl_library_is_absent_and_named() {
    let missing = "libhwspec-no-such-egl.so.1";
    conformance::missing_runtime(&[missing], |level, progress| {
        probe_with(missing, level, progress)
    });
}

/// Mesa's llvmpipe, which Debian's libegl-mesa0 brings, renders the image: a software device
/// with ES and desktop GL, validated at level `full` through both.
#[test]
fn llvmpipe_is_validated_as_software() {
    let mut progress = Recorder::default();
    let report = probe_with(sys::EGL_SONAME, Level::Full, &mut progress);
    if report
        .reason
        .as_ref()
        .is_some_and(|r| r.code == ReasonCode::LibraryNotFound)
    {
        panic!("libEGL.so.1 is not installed (install libegl1 libegl-mesa0): {report:#?}");
    }
    assert_eq!(
        progress.stages,
        [Stage::Load, Stage::Init, Stage::Enumerate, Stage::Kernel]
    );
    assert_eq!(progress.partials.len(), 1);
    assert_eq!(report.status, Status::Validated, "{report:#?}");
    assert!(report.library.as_deref().unwrap().contains("libEGL.so.1"));
    assert_eq!(report.runtime_version.as_deref(), Some("1.5"));
    let llvmpipe = report
        .devices
        .iter()
        .find(|d| d.name.contains("llvmpipe"))
        .unwrap_or_else(|| panic!("no llvmpipe device: {report:#?}"));
    assert_eq!(llvmpipe.kind, DeviceKind::Software);
    assert_eq!(llvmpipe.status, Status::Validated, "{llvmpipe:#?}");
    assert!(llvmpipe.has_feature("egl") && llvmpipe.has_feature("gles"));
    let gles = llvmpipe.api_version.as_deref().unwrap();
    assert!(gles.starts_with("3."), "{gles}");
    let apis: Vec<RenderApi> = llvmpipe
        .validations
        .iter()
        .map(|validation| {
            assert!(validation.passed, "{validation:?}");
            assert_eq!(judged(validation).1, Some(0), "{validation:?}");
            match validation.kind {
                ValidationKind::Render(Render { api, .. }) => api,
                _ => unreachable!("judged() accepts renders only"),
            }
        })
        .collect();
    if llvmpipe.has_feature("opengl") {
        assert!(llvmpipe.properties.contains_key("opengl_version"));
        assert_eq!(apis, [RenderApi::Gles, RenderApi::OpenGl]);
    } else {
        assert_eq!(apis, [RenderApi::Gles]);
    }
}

/// At level quick no image is rendered, and a second probe in the same process (displays
/// already initialised) finds the same device.
#[test]
fn quick_enumerates_without_rendering() {
    let report = probe_with(sys::EGL_SONAME, Level::Quick, &mut NoProgress);
    assert_eq!(report.status, Status::Enumerated, "{report:#?}");
    assert!(report.devices.iter().all(|d| d.validations.is_empty()));
    assert!(report.devices.iter().any(|d| d.has_feature("gles")));
}

#[test]
fn filenames_win_and_directories_are_merged_by_file_name() {
    let tmp = crate::testing::TempDir::new("egl-vendors");
    let (a, b) = (tmp.path().join("a"), tmp.path().join("b"));
    std::fs::create_dir_all(&a).unwrap();
    std::fs::create_dir_all(&b).unwrap();
    std::fs::write(a.join("50_mesa.json"), "{}").unwrap();
    std::fs::write(b.join("10_nvidia.json"), "{}").unwrap();
    std::fs::write(b.join("readme"), "").unwrap();
    let dirs = format!("{}:{}", a.display(), b.display());
    assert_eq!(
        listed(None, Some(&dirs)),
        [b.join("10_nvidia.json"), a.join("50_mesa.json")]
    );
    assert_eq!(
        listed(Some("/x/1.json:/y/2.json"), Some(&dirs)),
        [Path::new("/x/1.json"), Path::new("/y/2.json")]
    );
}

/// One context per client API and display serves every level: the contexts that read a
/// display's strings are the ones that render (before, quick made 2, standard 3, full 4 on
/// llvmpipe).
#[test]
fn each_level_makes_one_context_per_client_api_and_display() {
    let created: Vec<(usize, usize)> = [Level::Quick, Level::Standard, Level::Full]
        .into_iter()
        .map(|level| {
            let before = api::contexts_created();
            let report = probe_with(sys::EGL_SONAME, level, &mut NoProgress);
            let apis = report
                .devices
                .iter()
                .map(|d| usize::from(d.has_feature("gles")) + usize::from(d.has_feature("opengl")))
                .sum::<usize>();
            assert!(apis > 0, "{report:#?}");
            (api::contexts_created() - before, apis)
        })
        .collect();
    for (contexts, apis) in &created {
        assert_eq!(
            contexts, apis,
            "contexts made and client APIs at quick, standard, full: {created:?}"
        );
    }
}
