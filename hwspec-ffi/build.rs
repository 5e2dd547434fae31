//! Gives libhwspec.so its SONAME, and rebuilds when the built-in worker path changes.

fn main() {
    // The major version of the C ABI: bumped only by an incompatible change (docs/c-api.md).
    println!("cargo:rustc-cdylib-link-arg=-Wl,-soname,libhwspec.so.0");
    // src/options.rs reads it with option_env!; scripts/install-lib.sh sets it to the PREFIX's
    // libexec/hwspec/hwspec-worker.
    println!("cargo:rerun-if-env-changed=HWSPEC_WORKER_PATH");
    println!("cargo:rerun-if-changed=build.rs");
}
