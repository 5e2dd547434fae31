#!/usr/bin/env bash
# The one script to run on a machine with an NVIDIA GPU (issue 11). Such a machine may have no
# package registry and no network, so everything comes along: a release `hwspec` built
# elsewhere and the .deb files of the loaders hwspec opens (libvulkan1, libegl1, libglvnd0,
# ocl-icd-libopencl1, ...), unpacked into a private directory, never into /.
#
#   scripts/device-check.sh [--dry-run] [--hwspec FILE] [--debs DIR] [--out DIR]
#
#   --hwspec FILE  the hwspec binary (default: target/release/hwspec)
#   --debs DIR     .deb files to unpack and put in front with LD_LIBRARY_PATH (default:
#                  .device-debs, which scripts/device-debs.sh fills on a machine with apt)
#   --out DIR      where everything is written (default: $OUT, else ./device-check-out)
#   --dry-run      run every step on a machine without a GPU (the test suite does): nothing
#                  is expected of the answers, and the machine is named dry-run-<host>
#   --unpack-only  unpack the .deb files, print the LD_LIBRARY_PATH they make, and stop
#
# What it does, each probe timed: `hwspec probe --json` at quick, standard and full; `hwspec
# check --explain` of requirements a GPU package would declare; the faults that apply to a real
# libcuda (CUDA_VISIBLE_DEVICES empty, -1, a UUID that matches nothing, only device 0; a stage
# deadline shorter than cuInit). It writes at most seven files, named after the machine
# (<machine> is the first CUDA device's name and the driver version, e.g.
# nvidia-h200-535.161.08): <machine>-{quick,standard,full}.json, to be committed under
# tests/fixtures/reports/ as replay fixtures; <machine>-faults.jsonl (one report per fault);
# <machine>-checks.txt; <machine>-summary.txt (timings and verdicts); device-check.log.
# Every hwspec call has its own deadline, so the whole run ends within five minutes.
set -uo pipefail
cd "$(dirname "$0")/.."

dry_run=false
unpack_only=false
hwspec=target/release/hwspec
debs=.device-debs
out=${OUT:-device-check-out}
while [ $# -gt 0 ]; do
  case $1 in
    --dry-run) dry_run=true ;;
    --unpack-only) unpack_only=true ;;
    --hwspec) hwspec=$2; shift ;;
    --debs) debs=$2; shift ;;
    --out) out=$2; shift ;;
    *) echo "device-check: unknown argument $1" >&2; exit 2 ;;
  esac
  shift
done
[ -x "$hwspec" ] || { echo "device-check: no hwspec binary at $hwspec (--hwspec)" >&2; exit 2; }
hwspec=$(cd "$(dirname "$hwspec")" && pwd)/$(basename "$hwspec")
mkdir -p "$out"
out=$(cd "$out" && pwd)
log=$out/device-check.log
: >"$log"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
started=$SECONDS

say() { echo "device-check: $*" | tee -a "$log" >&2; }

# --- the loaders ------------------------------------------------------------------------------
# dpkg-deb where there is one; else the .deb's ar archive read with ar and tar, else by python3.
unpack() {
  local deb=$1 into=$2
  if command -v dpkg-deb >/dev/null && [ -z "${HWSPEC_DEVICE_CHECK_NO_DPKG:-}" ]; then
    dpkg-deb -x "$deb" "$into"
  elif command -v ar >/dev/null && [ -z "${HWSPEC_DEVICE_CHECK_NO_AR:-}" ]; then
    local member
    member=$(ar t "$deb" | grep '^data\.tar')
    ar p "$deb" "$member" | case $member in
      *.xz) tar -xJ -C "$into" ;;
      *.gz) tar -xz -C "$into" ;;
      *.zst) zstd -dc | tar -x -C "$into" ;;
      *) tar -x -C "$into" ;;
    esac
  else
    python3 - "$deb" "$into" <<'EOF'
import io, sys, tarfile
deb, into = sys.argv[1], sys.argv[2]
data = open(deb, "rb").read()
assert data[:8] == b"!<arch>\n", "not an ar archive"
pos = 8
while pos + 60 <= len(data):
    header = data[pos:pos + 60]
    name = header[:16].decode().strip().rstrip("/")
    size = int(header[48:58].decode().strip())
    body = data[pos + 60:pos + 60 + size]
    if name.startswith("data.tar"):
        tarfile.open(fileobj=io.BytesIO(body), mode="r:*").extractall(into)
        break
    pos += 60 + size + (size % 2)
else:
    sys.exit("no data.tar member")
EOF
  fi
}

root=$work/root
mkdir -p "$root"
unpacked=0
if [ -d "$debs" ]; then
  for deb in "$debs"/*.deb; do
    [ -e "$deb" ] || continue
    if unpack "$deb" "$root" 2>>"$log"; then
      unpacked=$((unpacked + 1))
    else
      say "could not unpack $deb"
    fi
  done
fi
libpath=
for dir in "$root/usr/lib/x86_64-linux-gnu" "$root/lib/x86_64-linux-gnu" "$root/usr/lib64"; do
  [ -d "$dir" ] && libpath=${libpath:+$libpath:}$dir
done
[ -n "$libpath" ] && export LD_LIBRARY_PATH=$libpath${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}
say "unpacked $unpacked .deb file(s) from $debs${libpath:+; LD_LIBRARY_PATH=$libpath}"
if $unpack_only; then
  find "$root" -type f | sed "s|^$root||" | sort
  exit 0
fi

# NVIDIA's driver files where the host keeps them (container hosts put them under
# /usr/local/nvidia); the loaders' default directories are searched anyway.
first() { for f in "$@"; do [ -e "$f" ] && { echo "$f"; return; }; done; }
vk=$(first /usr/local/nvidia/share/vulkan/icd.d/nvidia_icd.json /etc/vulkan/icd.d/nvidia_icd.json \
  /usr/share/vulkan/icd.d/nvidia_icd.json)
[ -n "$vk" ] && [ "${vk#/usr/share}" = "$vk" ] && [ "${vk#/etc}" = "$vk" ] && export VK_ADD_DRIVER_FILES=$vk
egl=$(first /usr/local/nvidia/share/glvnd/egl_vendor.d/10_nvidia.json)
[ -n "$egl" ] && export __EGL_VENDOR_LIBRARY_DIRS=$(dirname "$egl"):/etc/glvnd/egl_vendor.d:/usr/share/glvnd/egl_vendor.d
if [ ! -e /etc/OpenCL/vendors/nvidia.icd ]; then
  ocl=$(first /usr/local/nvidia/lib64/libnvidia-opencl.so.1 /usr/lib/x86_64-linux-gnu/libnvidia-opencl.so.1)
  if [ -n "$ocl" ]; then
    mkdir -p "$work/icd"
    echo "$ocl" >"$work/icd/nvidia.icd"
    for icd in /etc/OpenCL/vendors/*.icd; do [ -e "$icd" ] && cp "$icd" "$work/icd/"; done
    export OCL_ICD_VENDORS=$work/icd
  fi
fi
say "driver files: vulkan=${vk:-none} egl=${egl:-default} opencl=${OCL_ICD_VENDORS:-/etc/OpenCL/vendors}"

# --- probes -----------------------------------------------------------------------------------
# Milliseconds since the epoch.
now_ms() { echo $(($(date +%s%N) / 1000000)); }

# run NAME ARGS...: one hwspec call, its output in $work/NAME.out, exit status and time logged.
run() {
  local name=$1 t0 status
  shift
  t0=$(now_ms)
  "$hwspec" "$@" >"$work/$name.out" 2>>"$log"
  status=$?
  echo "$name exit=$status ms=$(($(now_ms) - t0)) args: $*" >>"$work/summary"
  return $status
}

: >"$work/summary"
for level in quick standard full; do
  run "probe-$level" probe --json --fresh --trust-env --timeout 30 --level "$level" ||
    say "probe at $level exited $?"
done

# The machine's name: the first CUDA device and the driver version, from the standard report.
machine=$(python3 - "$work/probe-standard.out" 2>>"$log" <<'EOF'
import json, re, sys
report = json.load(open(sys.argv[1]))
cuda = next((b for b in report["backends"] if b["name"] == "cuda"), None)
if not cuda or not cuda["devices"]:
    sys.exit(1)
name = cuda["devices"][0]["name"]
driver = cuda["properties"].get("libcuda_version") or cuda["properties"].get("kernel_module_version") or ""
print(re.sub(r"[^a-z0-9.]+", "-", f"{name} {driver}".lower()).strip("-"))
EOF
) || machine=
if $dry_run || [ -z "$machine" ]; then
  $dry_run || say "no CUDA device in the standard report; naming the files after the host"
  machine=$($dry_run && echo dry-run-)$(hostname -s 2>/dev/null || echo host)
fi
for level in quick standard full; do
  cp "$work/probe-$level.out" "$out/$machine-$level.json"
done

# --- requirements -----------------------------------------------------------------------------
requirements=(
  'cuda (>= 12.0)' 'cuda-arch (>= 9.0)' 'gpu-memory (>= 80)' 'gpu' 'gpu-count (>= 1)'
  'vulkan-gpu' 'opencl-gpu' 'egl' 'opengl' 'nvenc-h264' 'nvdec-hevc' 'gcc-offload-nvptx'
  'cuda (>= 12.0), cuda-arch (>= 8.0) | rocm, gpu-memory (>= 16)'
)
checks=$out/$machine-checks.txt
: >"$checks"
# Judged against the standard report just written, as a buildd would judge a package.
for requirement in "${requirements[@]}"; do
  "$hwspec" check --explain --report "$out/$machine-standard.json" "$requirement" \
    >>"$checks" 2>>"$log"
  echo "exit $? for: $requirement" >>"$checks"
  echo >>"$checks"
done

# --- faults a real libcuda meets --------------------------------------------------------------
faults=$out/$machine-faults.jsonl
: >"$faults"
fault() {
  local case=$1 t0 status
  shift
  t0=$(now_ms)
  env "$@" --timeout 20 --backend cuda,nvcodec --level quick >"$work/fault.out" 2>>"$log"
  status=$?
  printf '{"case": "%s", "exit": %d, "elapsed_ms": %d, "report": %s}\n' "$case" "$status" \
    "$(($(now_ms) - t0))" "$(tr -d '\n' <"$work/fault.out" | grep . || echo null)" >>"$faults"
  echo "fault $case exit=$status ms=$(($(now_ms) - t0))" >>"$work/summary"
}
probe=("$hwspec" probe --json --fresh --trust-env)
fault cuda-visible-devices-empty CUDA_VISIBLE_DEVICES= "${probe[@]}"
fault cuda-visible-devices-minus-one CUDA_VISIBLE_DEVICES=-1 "${probe[@]}"
fault cuda-visible-devices-unknown-uuid \
  CUDA_VISIBLE_DEVICES=GPU-00000000-0000-0000-0000-000000000000 "${probe[@]}"
fault cuda-visible-devices-first-only CUDA_VISIBLE_DEVICES=0 "${probe[@]}"
fault init-stage-deadline-shorter-than-cuinit "${probe[@]}" --stage-timeout init=0.005

summary=$out/$machine-summary.txt
{
  echo "device-check on $machine ($($dry_run && echo dry run || echo GPU run)) in $((SECONDS - started)) s"
  cat "$work/summary"
  grep '^exit ' "$checks"
} >"$summary"
cat "$summary" >&2
