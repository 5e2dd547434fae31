#!/usr/bin/env bash
# Whole-process comparison of `hwspec probe` with the peer tools, on the same machine in the
# same invocation, medians by hyperfine. Writes the table to docs/performance.md.
#
#   benches/compare.sh [RUNS]
#
# Targets, medians with warm driver caches:
#   hwspec probe                <= 0.75 x (clinfo + vulkaninfo --summary + rocminfo)   (issue 2)
#   hwspec probe --level quick  <= 0.40 x the same sum                                (issue 2)
#   hwspec check opencl, answered from the report cache: < 5 ms                       (issue 5)
# The peers cover OpenCL, Vulkan and ROCm, so the targets are judged on a probe of the same
# runtimes (plus the CPU); the probe of all ten backends is timed and reported beside it.
# The probes run with --fresh: without it they would be answered from the report cache.
set -euo pipefail
cd "$(dirname "$0")/.."
runs=${1:-30}

need=()
for tool in hyperfine:hyperfine clinfo:clinfo vulkaninfo:vulkan-tools rocminfo:rocminfo jq:jq; do
  command -v "${tool%%:*}" >/dev/null || need+=("${tool#*:}")
done
if [ ${#need[@]} -gt 0 ]; then
  sudo=()
  [ "$(id -u)" -eq 0 ] || sudo=(sudo -n)
  export DEBIAN_FRONTEND=noninteractive
  "${sudo[@]}" apt-get update -qq
  "${sudo[@]}" apt-get install -y -qq "${need[@]}" </dev/null
fi

cargo build --release --locked -q -p hwspec-cli
hw=$PWD/target/release/hwspec
# One probe first, so PoCL's kernel cache and Mesa's shader cache are warm as on any machine
# that has probed before.
"$hw" probe >/dev/null
"$hw" check opencl || true

# The runtimes the peers cover: clinfo OpenCL, vulkaninfo Vulkan, rocminfo ROCm.
same=cpu,opencl,vulkan,hip
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
# rocminfo exits non-zero on a machine without an AMD GPU; its time still counts.
hyperfine -N -i --warmup 3 --runs "$runs" --export-json "$out/times.json" \
  -n 'hwspec probe --level quick' "$hw probe --fresh --level quick --backend $same" \
  -n 'hwspec probe' "$hw probe --fresh --backend $same" \
  -n 'hwspec probe --level quick (all backends)' "$hw probe --fresh --level quick" \
  -n 'hwspec probe (all backends)' "$hw probe --fresh" \
  -n 'hwspec check opencl (warm)' "$hw check opencl" \
  -n 'clinfo' 'clinfo' \
  -n 'vulkaninfo --summary' 'vulkaninfo --summary' \
  -n 'rocminfo' 'rocminfo' >&2

median() { jq -r --arg n "$1" '.results[] | select(.command == $n) | .median * 1000' "$out/times.json"; }
quick=$(median 'hwspec probe --level quick')
standard=$(median 'hwspec probe')
check=$(median 'hwspec check opencl (warm)')
all=$(median 'hwspec probe (all backends)')
all_quick=$(median 'hwspec probe --level quick (all backends)')
peers=$(jq -r '[.results[] | select(.command | startswith("hwspec") | not) | .median] | add * 1000' "$out/times.json")
verdict() { awk -v t="$1" -v p="$peers" -v f="$2" 'BEGIN { r = t / p; printf "%.2f x the peers (target <= %.2f): %s", r, f, (r <= f ? "met" : "missed") }'; }

{
  echo "# Performance"
  echo
  echo "Whole-process times from \`benches/compare.sh $runs\` (hyperfine, $runs runs after 3 warm-ups,"
  echo "driver caches warm), $(date -u +%Y-%m-%d), on $(nproc) cores of"
  echo "\"$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -1)\", $(uname -sr)."
  echo "OpenCL is PoCL $(dpkg-query -W -f='${Version}' pocl-opencl-icd 2>/dev/null || echo '?'),"
  echo "Vulkan is lavapipe (Mesa $(dpkg-query -W -f='${Version}' mesa-vulkan-drivers 2>/dev/null || echo '?'))."
  echo "The standard probe runs a 1M-element SAXPY on every device, the peers only list devices;"
  echo "the probes run with --fresh, the check is answered from the report cache as a buildd's would be."
  echo "\`hwspec probe\` rows probe the runtimes the peers cover (\`--backend $same\`); the"
  echo "\"all backends\" rows add CUDA, Level Zero, EGL (which renders), VA-API, NVDEC/NVENC and GCC offloading."
  echo
  echo "| command | median (ms) | mean ± σ (ms) | min (ms) | max (ms) |"
  echo "|---|---:|---:|---:|---:|"
  jq -r '.results[] | "| `\(.command)` | \(.median * 1000 | . * 10 | round / 10) | \(.mean * 1000 | . * 10 | round / 10) ± \(.stddev * 1000 | . * 10 | round / 10) | \(.min * 1000 | . * 10 | round / 10) | \(.max * 1000 | . * 10 | round / 10) |"' "$out/times.json"
  echo
  printf 'Sum of the peers'"'"' medians: %.1f ms.\n\n' "$peers"
  echo "- \`hwspec probe\`: $(verdict "$standard" 0.75)"
  echo "- \`hwspec probe --level quick\`: $(verdict "$quick" 0.40)"
  awk -v a="$all" -v q="$all_quick" -v p="$peers" 'BEGIN { printf "- all ten backends (no target of its own): standard %.2f x, quick %.2f x the peers\n", a / p, q / p }'
  awk -v t="$check" 'BEGIN { printf "- warm `hwspec check opencl`: %.1f ms (target < 5 ms): %s\n", t, (t < 5 ? "met" : "missed") }'
} > docs/performance.md.new
if [ -f docs/performance-notes.md ]; then
  { echo; cat docs/performance-notes.md; } >> docs/performance.md.new
fi
mv docs/performance.md.new docs/performance.md
cat docs/performance.md
