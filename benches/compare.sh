#!/usr/bin/env bash
# Whole-process timings of hwspec against the peer tools and against the floor (the minimal C
# programs of benches/floor/ that do only what each backend must), on the same machine in the
# same invocation, medians by hyperfine. Writes docs/performance.md (the table and verdicts,
# then docs/performance-notes.md, written by hand).
#
#   benches/compare.sh [RUNS]
#
# Targets, medians with warm driver caches:
#   hwspec probe                <= 0.75 x (clinfo + vulkaninfo --summary + rocminfo)   (issue 2)
#   hwspec probe --level quick  <= 0.40 x the same sum                                (issue 2)
#   hwspec check opencl, answered from the report cache: < 5 ms                       (issue 5)
#   hwspec probe, all backends  <= 1.05 x the floor of all backends started at once   (issue 13)
#   each extra device at standard (a second PoCL device): <= 4 ms                     (issue 13)
#   8 concurrent `hwspec check opencl` with no cached report: <= 1.3 x one            (issue 13)
# The peers cover OpenCL, Vulkan and ROCm, so the peer targets are judged on a probe of the same
# runtimes (plus the CPU); the probe of all ten backends is timed and reported beside it. The
# probes run with --fresh: without it they would be answered from the report cache.
# Everything hwspec writes goes to a private cache (benches/lib.sh), so the cold checks can
# remove cached reports without touching the machine's.
set -euo pipefail
cd "$(dirname "$0")/.."
runs=${1:-30}
. benches/lib.sh
bench_setup "$@"

json=$bench_tmp/json
mkdir -p "$json"
# Times the commands of batch $1 with hyperfine (no shell), $2 runs of each, in rounds of at
# most six runs whose order alternates, forwards then backwards, so that load that comes and goes
# on a shared machine falls on every command alike; the rounds are merged into $json/$1.json.
# A batch waits, two minutes at most, while the 1-minute load average is 3 or more (other
# work's builds); the load as each round begins is kept for the report. Then come hyperfine
# options up to `--`, then NAME COMMAND pairs. rocminfo exits non-zero on a machine without an
# AMD GPU; its time still counts.
loads=()
time_as() {
  local name=$1 count=$2 options=() pairs=() round i
  shift 2
  while [ "$1" != -- ]; do options+=("$1"); shift; done
  shift
  pairs=("$@")
  local rounds=$(((count + 5) / 6))
  local per_round=$(((count + rounds - 1) / rounds)) seen=()
  for ((round = 0; round < rounds; round++)); do
    local order=()
    for ((i = 0; i < ${#pairs[@]}; i += 2)); do
      if ((round % 2 == 0)); then
        order+=(-n "${pairs[i]}" "${pairs[i + 1]}")
      else
        order=(-n "${pairs[i]}" "${pairs[i + 1]}" "${order[@]}")
      fi
    done
    for ((i = 0; round == 0 && i < 24; i++)); do
      awk '{ exit !($1 >= 3) }' /proc/loadavg || break
      sleep 5
    done
    seen+=("$(cut -d' ' -f1 /proc/loadavg)")
    hyperfine -N -i --warmup 1 --runs "$per_round" --export-json "$json/$name.$round.json" \
      "${options[@]}" "${order[@]}" >&2
  done
  loads+=("$name $(printf '%s\n' "${seen[@]}" | sort -n | sed -n '1p;$p' | paste -sd- | sed 's/^\([^-]*\)-\1$/\1/')")
  jq -s '(.[0].results | map(.command)) as $order | [.[].results[]] as $all
    | { results: [ $order[] as $c | [$all[] | select(.command == $c)] as $r
      | ([$r[].times[]] | sort) as $t | ($t | length) as $n | ($t | add / $n) as $m
      | { command: $c, times: $t, mean: $m, min: $t[0], max: $t[-1],
          median: (if $n % 2 == 1 then $t[($n - 1) / 2] else ($t[$n / 2 - 1] + $t[$n / 2]) / 2 end),
          stddev: (if $n > 1 then ([$t[] | (. - $m) * (. - $m)] | add / ($n - 1) | sqrt) else 0 end),
          user: ([$r[] | .user * (.times | length)] | add / $n),
          system: ([$r[] | .system * (.times | length)] | add / $n) } ] }' \
    "$json/$name".*.json >"$json/$name.json"
}

# The runtimes the peers cover: clinfo OpenCL, vulkaninfo Vulkan, rocminfo ROCm.
same=cpu,opencl,vulkan,hip
time_as peers "$runs" -- \
  'hwspec probe --level quick' "$hw probe --fresh --level quick --backend $same" \
  'hwspec probe' "$hw probe --fresh --backend $same" \
  'hwspec probe --level quick (all backends)' "$hw probe --fresh --level quick" \
  'hwspec probe (all backends)' "$hw probe --fresh" \
  'hwspec check opencl (warm)' "$hw check opencl" \
  'clinfo' 'clinfo' \
  'vulkaninfo --summary' 'vulkaninfo --summary' \
  'rocminfo' 'rocminfo'

# The floor: every backend at once, and each alone beside hwspec probing it alone.
pairs=()
for backend in cpu opencl vulkan cuda hip level_zero egl vaapi nvcodec gcc_offload; do
  pairs+=("hwspec $backend" "$hw probe --fresh --backend $backend")
  if ! grep -qx "$backend" <<<"$uncovered"; then
    pairs+=("floor $backend" "$floor --cache $driver_cache $backend")
  fi
done
time_as floor "$runs" -- \
  'hwspec all' "$hw probe --fresh" \
  'floor all' "$floor --cache $driver_cache" \
  'hwspec all quick' "$hw probe --fresh --level quick" \
  'floor all quick' "$floor --cache $driver_cache --level quick" \
  "${pairs[@]}"

# One PoCL device against two: what an extra device costs. As root, hwspec passes POCL_*
# to its workers only with --trust-env.
two_devices=no
if POCL_DEVICES='pthread pthread' "$floor" --cache "$driver_cache" opencl | grep -q '^opencl validated: 2 device'; then
  two_devices=yes
  time_as devices "$runs" -- \
    'hwspec 1' "env POCL_DEVICES=pthread $hw probe --fresh --trust-env --backend opencl" \
    'hwspec 2' "env POCL_DEVICES='pthread pthread' $hw probe --fresh --trust-env --backend opencl" \
    'floor 1' "env POCL_DEVICES=pthread $floor --cache $driver_cache opencl" \
    'floor 2' "env POCL_DEVICES='pthread pthread' $floor --cache $driver_cache opencl"
fi

# `hwspec check opencl` with no cached report (driver caches warm), one against eight at once;
# each batch probes eight times as long as one probe, so it runs a third as often.
forget_reports="find $report_cache -maxdepth 1 -name report-*.json -delete"
eight='for i in 1 2 3 4 5 6 7 8; do '"$hw"' check opencl & done; wait'
time_as checks $((runs / 3 > 6 ? runs / 3 : 6)) --prepare "$forget_reports" -- \
  'one' "sh -c '$hw check opencl & wait'" \
  'eight' "sh -c '$eight'"
load_after=$(bench_load)

# Figures out of the JSON: median and CPU time (user + system, every process) in ms.
median() { jq -r --arg n "$2" '.results[] | select(.command == $n) | .median * 1000' "$json/$1.json"; }
cpu() { jq -r --arg n "$2" '.results[] | select(.command == $n) | (.user + .system) * 1000' "$json/$1.json"; }
quick=$(median peers 'hwspec probe --level quick')
standard=$(median peers 'hwspec probe')
check=$(median peers 'hwspec check opencl (warm)')
all=$(median peers 'hwspec probe (all backends)')
all_quick=$(median peers 'hwspec probe --level quick (all backends)')
peers=$(jq -r '[.results[] | select(.command | startswith("hwspec") | not) | .median] | add * 1000' "$json/peers.json")
verdict() { awk -v t="$1" -v p="$peers" -v f="$2" 'BEGIN { r = t / p; printf "%.2f x the peers (target <= %.2f): %s", r, f, (r <= f ? "met" : "missed") }'; }
# A row of the floor table: label, hwspec's command name, the floor's.
floor_row() {
  local h f hc fc
  h=$(median floor "$2")
  hc=$(cpu floor "$2")
  if [ -z "$(median floor "$3")" ]; then
    awk -v l="$1" -v h="$h" -v hc="$hc" 'BEGIN { printf "| %s | %.1f | not covered | - | %.1f | - | - |\n", l, h, hc }'
    return
  fi
  f=$(median floor "$3")
  fc=$(cpu floor "$3")
  awk -v l="$1" -v h="$h" -v f="$f" -v hc="$hc" -v fc="$fc" \
    'BEGIN { printf "| %s | %.1f | %.1f | %.2f | %.1f | %.1f | %.2f |\n", l, h, f, h / f, hc, fc, hc / fc }'
}
whole=$(awk -v h="$(median floor 'hwspec all')" -v f="$(median floor 'floor all')" 'BEGIN { print h / f }')

{
  echo "# Performance"
  echo
  echo "Whole-process times from \`benches/compare.sh $runs\` (hyperfine, $runs runs of each command in"
  echo "rounds of at most six whose order alternates, driver caches warm), $(date -u +%Y-%m-%d), on $(nproc) cores of"
  echo "\"$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -1)\", $(uname -sr)."
  echo "OpenCL is PoCL $(dpkg-query -W -f='${Version}' pocl-opencl-icd 2>/dev/null || echo '?'),"
  echo "Vulkan is lavapipe (Mesa $(dpkg-query -W -f='${Version}' mesa-vulkan-drivers 2>/dev/null || echo '?'))."
  echo "Load average (1, 5, 15 min) when the runs began: $load_before; when they ended: $load_after;"
  echo "1-minute load as the rounds of each batch began: $(printf '%s, ' "${loads[@]}" | sed 's/, $//')."
  if printf '%s\n' "${loads[@]}" "x ${load_after%% *}" | tr -- - ' ' | awk '$NF >= 1 { busy = 1 } END { exit !busy }'; then
    echo "The machine was not idle: other work shared its cores, so wall times carry that load;"
    echo "the CPU times (user + system, summed over every process) are less affected by it."
  fi
  echo
  echo "## Against the peers"
  echo
  echo "The standard probe runs a 1M-element SAXPY on every device, the peers only list devices;"
  echo "the probes run with --fresh, the check is answered from the report cache as a buildd's would be."
  echo "\`hwspec probe\` rows probe the runtimes the peers cover (\`--backend $same\`); the"
  echo "\"all backends\" rows add CUDA, Level Zero, EGL (which renders), VA-API, NVDEC/NVENC and GCC offloading."
  echo
  echo "| command | median (ms) | mean ± σ (ms) | min (ms) | max (ms) |"
  echo "|---|---:|---:|---:|---:|"
  jq -r '.results[] | "| `\(.command)` | \(.median * 1000 | . * 10 | round / 10) | \(.mean * 1000 | . * 10 | round / 10) ± \(.stddev * 1000 | . * 10 | round / 10) | \(.min * 1000 | . * 10 | round / 10) | \(.max * 1000 | . * 10 | round / 10) |"' "$json/peers.json"
  echo
  printf 'Sum of the peers'"'"' medians: %.1f ms.\n\n' "$peers"
  echo "- \`hwspec probe\`: $(verdict "$standard" 0.75)"
  echo "- \`hwspec probe --level quick\`: $(verdict "$quick" 0.40)"
  awk -v a="$all" -v q="$all_quick" -v p="$peers" 'BEGIN { printf "- all ten backends (no target of its own): standard %.2f x, quick %.2f x the peers\n", a / p, q / p }'
  awk -v t="$check" 'BEGIN { printf "- warm `hwspec check opencl`: %.1f ms (target < 5 ms): %s\n", t, (t < 5 ? "met" : "missed") }'
  echo
  echo "## Against the floor"
  echo
  echo "The floor programs of \`benches/floor/\` do only what each backend must to reach hwspec's"
  echo "answer on this machine, in C: load the runtime at run time, enumerate, build the kernel"
  echo "(OpenCL from the program binary cached on the first run, Vulkan from the committed SPIR-V),"
  echo "run the same 1M-element SAXPY on buffers filled and checked in place, or, for EGL, one"
  echo "context per API and one 64×64 render; the backends that find nothing here stop where"
  echo "hwspec stops. \`run-floor\` starts them as hwspec starts its workers, one process per backend"
  echo "and all at once, sharing hwspec's driver cache; alone, it starts one. \`hwspec probe --fresh\`"
  echo "and \`run-floor\` both at level standard unless the row says quick. CPU is user + system"
  echo "time, summed over every process, mean of the runs."
  echo
  echo "| probe | hwspec median (ms) | floor median (ms) | hwspec ÷ floor | hwspec CPU (ms) | floor CPU (ms) | CPU ÷ |"
  echo "|---|---:|---:|---:|---:|---:|---:|"
  floor_row "all backends" 'hwspec all' 'floor all'
  floor_row "all backends, quick" 'hwspec all quick' 'floor all quick'
  for backend in cpu opencl vulkan cuda hip level_zero egl vaapi nvcodec gcc_offload; do
    floor_row "$backend alone" "hwspec $backend" "floor $backend"
  done
  echo
  awk -v r="$whole" 'BEGIN { printf "- whole standard probe: %.2f x the floor (target <= 1.05): %s\n", r, (r <= 1.05 ? "met" : "missed") }'
  if [ "$two_devices" = yes ]; then
    h1=$(median devices 'hwspec 1') h2=$(median devices 'hwspec 2')
    f1=$(median devices 'floor 1') f2=$(median devices 'floor 2')
    hc1=$(cpu devices 'hwspec 1') hc2=$(cpu devices 'hwspec 2')
    fc1=$(cpu devices 'floor 1') fc2=$(cpu devices 'floor 2')
    awk -v h1="$h1" -v h2="$h2" -v f1="$f1" -v f2="$f2" -v hc1="$hc1" -v hc2="$hc2" -v fc1="$fc1" -v fc2="$fc2" 'BEGIN {
      d = h2 - h1
      printf "- a second device at standard (OpenCL alone, `POCL_DEVICES=\"pthread pthread\"` against `pthread`): hwspec %.1f → %.1f ms, +%.1f ms (target <= 4 ms): %s; CPU +%.1f ms.\n", h1, h2, d, (d <= 4 ? "met" : "missed"), hc2 - hc1
      printf "  The floor: %.1f → %.1f ms, +%.1f ms; CPU +%.1f ms. hwspec beyond the floor: %+.1f ms, CPU %+.1f ms.\n", f1, f2, f2 - f1, fc2 - fc1, d - (f2 - f1), (hc2 - hc1) - (fc2 - fc1) }'
  else
    echo "- a second device: not measured (PoCL did not expose two devices with POCL_DEVICES=\"pthread pthread\")"
  fi
  awk -v one="$(median checks one)" -v eight="$(median checks eight)" -v c1="$(cpu checks one)" -v c8="$(cpu checks eight)" 'BEGIN {
    r = eight / one
    printf "- 8 concurrent `hwspec check opencl` with no cached report (driver caches warm): %.1f ms against %.1f ms for one, %.2f x (target <= 1.3): %s; CPU %.0f ms against %.0f ms\n", eight, one, r, (r <= 1.3 ? "met" : "missed"), c8, c1 }'
} > docs/performance.md.new
if [ -f docs/performance-notes.md ]; then
  { echo; cat docs/performance-notes.md; } >> docs/performance.md.new
fi
mv docs/performance.md.new docs/performance.md
cat docs/performance.md
