#!/usr/bin/env bash
# Runs every check hwspec has: formatting, clippy, and all tests (Rust unit and integration
# tests, which drive the real PoCL and lavapipe runtimes and compile C fault fixtures), then
# libhwspec as installed: its C tests (also under ASan/UBSan and valgrind) and Python tests,
# then the Debian packages: built, linted, installed, tested with the real apt, autopkgtest and
# systemd-analyze, and purged again (tests/packages.sh; the installation stays in a private
# mount namespace, invisible to the rest of the machine).
# Installs the Debian packages the tests need when they are missing, so it works from a fresh
# clone on a fresh Debian bookworm machine with only the Rust toolchain.
set -euo pipefail
cd "$(dirname "$0")/.."

# Runtimes the tests probe for real, the HIP runtime and the Level Zero loader (present with no
# device), the C compiler for fault fixtures, xz and zstd (with dpkg-deb, which every Debian
# system has) to build test .deb files and compressed bombs, and the compilers that check
# committed kernel artefacts against their sources (glslang: Vulkan SPIR-V; clang: CUDA PTX;
# clang with llvm-spirv: Level Zero SPIR-V; spirv-val checks both SPIR-V kinds).
# For libhwspec's C and Python tests (hwspec-ffi/tests/run-c-tests.sh): pkg-config to build
# against the installed library, binutils for readelf (SONAME), valgrind, python3 for the
# ctypes bindings; gcc brings AddressSanitizer and UndefinedBehaviorSanitizer.
# For the exports' consumers: Slurm's daemons and commands with munge (tests/slurm.rs starts
# its own private ones), iproute2 for their network namespace, dpkg-deb's .debs, PyYAML for
# the Kubernetes manifest. liblzma-dev:
# hwspec decodes .deb members with the system's liblzma, as dpkg-deb does (and libhwspec.a's
# static users link it).
# For the Debian packages (scripts/build-debs.sh, tests/debian.rs, tests/packages.sh):
# dpkg-dev, debhelper and dh-python build them, lintian checks them, autopkgtest runs the demo
# package's tests, systemd brings systemd-analyze, man-db `man -w` for the pages SEE ALSO names.
# For the floor programs (benches/floor/, tests/floor.rs): the OpenCL, Vulkan, EGL and GLES
# headers they are compiled against (the runtimes themselves are opened at run time).
packages=(
  ocl-icd-libopencl1 pocl-opencl-icd
  libvulkan1 mesa-vulkan-drivers
  libamdhip64-5
  libze1
  libegl1 libegl-mesa0 libgl1-mesa-dri
  libva2 libva-drm2 mesa-va-drivers util-linux
  gcc libc6-dev
  gcc-12-offload-nvptx
  xz-utils zstd
  glslang-tools spirv-tools
  clang-15 llvm-spirv-15
  pkg-config binutils valgrind python3
  slurmctld slurmd slurm-client munge iproute2 python3-yaml
  liblzma-dev
  dpkg-dev debhelper dh-python build-essential lintian autopkgtest systemd man-db
  opencl-c-headers libvulkan-dev libegl-dev libgles-dev
)

missing=()
for p in "${packages[@]}"; do
  status=$(dpkg-query -W -f='${db:Status-Status}' "$p" 2>/dev/null || true)
  [ "$status" = installed ] || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "test.sh: installing ${missing[*]}" >&2
  sudo=()
  [ "$(id -u)" -eq 0 ] || sudo=(sudo -n)
  export DEBIAN_FRONTEND=noninteractive
  # Other jobs may hold apt's locks on a shared machine: wait for them rather than fail.
  "${sudo[@]}" apt-get -o DPkg::Lock::Timeout=600 update -qq
  # munge and slurm start their system services when installed; the tests run private ones,
  # so a policy-rc.d (invoke-rc.d's standard veto) keeps the system's from starting, and is
  # removed again unless the machine already had one.
  own_policy=
  if [ ! -e /usr/sbin/policy-rc.d ]; then
    printf '#!/bin/sh\nexit 101\n' | "${sudo[@]}" tee /usr/sbin/policy-rc.d >/dev/null
    "${sudo[@]}" chmod 755 /usr/sbin/policy-rc.d
    own_policy=1
    trap '"${sudo[@]}" rm -f /usr/sbin/policy-rc.d' EXIT
  fi
  "${sudo[@]}" apt-get -o DPkg::Lock::Timeout=600 install -y -qq "${missing[@]}" </dev/null
  if [ -n "$own_policy" ]; then
    "${sudo[@]}" rm -f /usr/sbin/policy-rc.d
    trap - EXIT
  fi
fi

# The real vendor user space for tests/vendor.rs (NVIDIA 535 from non-free, Intel's compute
# runtime, Mesa's Clover and Rusticl): fetched with a private apt configuration into a cache
# (see the script's header), never installed. Its own step, so its time shows; without network
# the vendor tests say so and skip.
echo "test.sh: vendor packages (scripts/vendor-fixtures.sh)" >&2
vendor_started=$SECONDS
if vendor_dir=$(scripts/vendor-fixtures.sh); then
  echo "test.sh: vendor packages ready in $vendor_dir after $((SECONDS - vendor_started)) s" >&2
else
  echo "test.sh: vendor packages unavailable; tests/vendor.rs will skip" >&2
fi

echo "test.sh: cargo fmt --check" >&2
cargo fmt --all --check
echo "test.sh: cargo clippy" >&2
cargo clippy --workspace --all-targets --locked -- -D warnings
echo "test.sh: cargo test" >&2
cargo test --workspace --locked
echo "test.sh: C library and Python tests" >&2
hwspec-ffi/tests/run-c-tests.sh
echo "test.sh: Debian packages" >&2
tests/packages.sh
