#!/usr/bin/env bash
# Builds the floor programs (see floor.h) into OUT_DIR: floor-<backend> for each of hwspec's
# backends, run-floor to start them as hwspec starts its workers, and, where a GCC offload
# compiler is installed, hwspec's own offload program (gcc-offload-<target>) for floor-gcc_offload
# to run, compiled once here as hwspec compiles it once and caches it.
#
#   benches/floor/build.sh OUT_DIR
#
# Warnings are errors. The runtimes are opened at run time, never linked: the headers come from
# opencl-c-headers, libvulkan-dev and libegl-dev/libgles-dev (scripts/test.sh installs them).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
kernels=$here/../../hwspec-core/src/backends
out=${1:?usage: build.sh OUT_DIR}
mkdir -p "$out"
cc=${CC:-cc}
flags=(-O2 -std=gnu11 -Wall -Wextra -Werror)

"$cc" "${flags[@]}" -c -o "$out/assets.o" \
  -DSAXPY_CL="\"$kernels/opencl/saxpy.cl\"" \
  -DSAXPY_SPV="\"$kernels/vulkan/saxpy.spv\"" \
  -DSAXPY_PTX="\"$kernels/cuda/saxpy.ptx\"" \
  "$here/assets.S"
for backend in cpu opencl vulkan cuda hip level_zero egl vaapi nvcodec gcc_offload; do
  "$cc" "${flags[@]}" -o "$out/floor-$backend" "$here/$backend.c" "$out/assets.o" -ldl -lm &
done
"$cc" "${flags[@]}" -o "$out/run-floor" "$here/run-floor.c" &
wait_all() {
  local failed=0
  for job in $(jobs -p); do wait "$job" || failed=1; done
  return "$failed"
}
wait_all

# The offload program, compiled exactly as hwspec's gcc_offload backend compiles it, for every
# offload target whose compiler is installed (Debian's gcc-N-offload-<target>).
multiarch=$(gcc -print-multiarch 2>/dev/null || echo x86_64-linux-gnu)
rm -f "$out"/gcc-offload-*
for mkoffload in /usr/lib/gcc/"$multiarch"/*/accel/*/mkoffload; do
  [ -x "$mkoffload" ] || continue
  target=$(basename "$(dirname "$mkoffload")")
  version=$(basename "$(dirname "$(dirname "$(dirname "$mkoffload")")")")
  [ -e "$out/gcc-offload-$target" ] && continue
  command -v "gcc-$version" >/dev/null || continue
  "gcc-$version" -fopenmp "-foffload=$target" -O1 -DHWSPEC_N=1048576 \
    "$kernels/gcc_offload/saxpy.c" -o "$out/gcc-offload-$target"
done
