//! Vulkan: a bad driver manifest next to lavapipe's, and a crashing implicit layer.

use super::*;

fn vulkan_with_manifest(name: &str, manifest: &str) -> Value {
    let dir = scratch_dir(name);
    let bad = dir.join("bad_icd.json");
    std::fs::write(&bad, manifest).unwrap();
    Probe::new(name, CUDA_BACKENDS, TIMEOUT)
        .env(
            "VK_DRIVER_FILES",
            format!("{}:{LAVAPIPE_MANIFEST}", bad.display()),
        )
        .run()
}

#[test]
fn vulkan_manifest_naming_a_missing_library_is_skipped() {
    let name = "vulkan_manifest_naming_a_missing_library_is_skipped";
    let report = vulkan_with_manifest(
        name,
        r#"{"file_format_version": "1.0.0",
            "ICD": {"api_version": "1.3.0", "library_path": "/nonexistent/libhwspec_vk.so"}}"#,
    );
    assert_software_devices_validated(&report);
    let named = warnings(&report, "vulkan");
    assert!(
        named.iter().any(|w| w.starts_with("Vulkan driver manifest")
            && w.contains("/nonexistent/libhwspec_vk.so")
            && w.contains("cannot be loaded")),
        "{named:?}"
    );
}

#[test]
fn vulkan_malformed_manifest_does_not_hide_lavapipe() {
    let name = "vulkan_malformed_manifest_does_not_hide_lavapipe";
    let report = vulkan_with_manifest(name, r#"{ "ICD": { "library_path": "#);
    let (status, code) = status_and_code(&report, "vulkan");
    assert!(
        status == "validated",
        "Vulkan is {status} ({code}): loader 1.3.239 fails vkCreateInstance with \
         ERROR_OUT_OF_HOST_MEMORY when any manifest is not JSON (KhronosGroup/Vulkan-Loader#1324), \
         so lavapipe is reported only if hwspec isolates the manifests: {:#}",
        backend(&report, "vulkan")
    );
    assert_software_devices_validated(&report);
    let named = warnings(&report, "vulkan");
    assert!(
        named
            .iter()
            .any(|w| w.starts_with("Vulkan driver manifest") && w.contains("not valid JSON")),
        "{named:?}"
    );
    assert!(
        backend(&report, "vulkan")["properties"]["isolation"].is_string(),
        "each manifest was probed alone: {:#}",
        backend(&report, "vulkan")
    );
}

/// A home directory whose only content is an implicit Vulkan layer that segfaults, found by
/// the loader under `$HOME/.local/share/vulkan/implicit_layer.d`.
pub(crate) fn home_with_crashing_layer(name: &str) -> PathBuf {
    let home = scratch_dir(name).join("home");
    let layers = home.join(".local/share/vulkan/implicit_layer.d");
    std::fs::create_dir_all(&layers).unwrap();
    let manifest = serde_json::json!({
        "file_format_version": "1.1.2",
        "layer": {
            "name": "VK_LAYER_HWSPEC_crash",
            "type": "GLOBAL",
            "library_path": fixtures().crashing_layer,
            "api_version": "1.3.239",
            "implementation_version": "1",
            "description": "hwspec fault fixture: segfaults when loaded",
            "disable_environment": {"HWSPEC_TEST_NO_CRASH_LAYER": "1"}
        }
    });
    std::fs::write(layers.join("hwspec_crash.json"), manifest.to_string()).unwrap();
    home
}

#[test]
fn vulkan_crashing_implicit_layer_is_not_loaded() {
    let name = "vulkan_crashing_implicit_layer_is_not_loaded";
    let report = Probe::new(name, CUDA_BACKENDS, TIMEOUT)
        .env("HOME", home_with_crashing_layer(name))
        .env("VK_DRIVER_FILES", LAVAPIPE_MANIFEST)
        .run();
    assert_software_devices_validated(&report);
}

/// The control for the case above: the layer does crash Vulkan when the caller makes its own
/// layer choice, which hwspec respects instead of disabling implicit layers.
#[test]
fn vulkan_crashing_layer_crashes_when_the_caller_enables_it() {
    let name = "vulkan_crashing_layer_crashes_when_the_caller_enables_it";
    let report = Probe::new(name, CUDA_BACKENDS, TIMEOUT)
        .env("HOME", home_with_crashing_layer(name))
        .env("VK_DRIVER_FILES", LAVAPIPE_MANIFEST)
        .env("VK_LOADER_LAYERS_ENABLE", "VK_LAYER_HWSPEC_crash")
        .run();
    assert_backend(&report, "vulkan", "unusable", Some("crashed"));
    let message = reason_message(&report, "vulkan");
    assert!(message.contains("SIGSEGV"), "{message}");
    assert_backend(&report, "cpu", "validated", None);
    assert_opencl_validated_on_pocl(&report);
}
