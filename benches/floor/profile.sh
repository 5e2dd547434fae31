#!/usr/bin/env bash
# Where hwspec's time goes against the floor, in figures that a loaded machine disturbs little:
# CPU time and page faults (perf stat, every process of the probe), instructions (callgrind,
# every process), and the counts behind the suspects of issue 13. Prints Markdown; the findings
# in docs/performance-notes.md quote it.
#
#   benches/floor/profile.sh [RUNS]      # RUNS of each perf stat (default 10)
#
# Under valgrind the CPU is another one (no AVX-512), so PoCL and Mesa miss their caches: each
# backend's floor runs once under valgrind first, to fill them (the floor shares hwspec's driver
# cache), and hwspec gets deadlines long enough for a valgrind run. The parts that name the
# worker subcommand (`__worker`) run workers alone, as hwspec's parent starts them.
set -euo pipefail
cd "$(dirname "$0")/../.."
runs=${1:-10}
. benches/lib.sh
bench_setup "$@"
backends=(cpu opencl vulkan cuda hip level_zero egl vaapi nvcodec gcc_offload)
patient=(--timeout 3600)
for stage in load init enumerate kernel; do patient+=(--stage-timeout "$stage=1800"); done

# "CPU page-faults" of a command, means of $runs runs, every process it starts included; CPU
# is "T (sys S)", milliseconds in all and in the kernel.
perf_of() {
  perf stat -x, -e task-clock,system_time,page-faults -r "$runs" -- "$@" 2>&1 >/dev/null |
    awk -F, '$3 == "task-clock" { t = $1 } $3 == "system_time" { s = $1 / 1e6 } $3 == "page-faults" { p = $1 }
      END { printf "%.1f_(sys_%.1f) %d", t, s, p }'
}

# Instructions of every process of a command under callgrind, in millions; the profiles stay
# in $bench_tmp/cg/$1.
callgrind_of() {
  local tag=$1
  shift
  rm -rf "$bench_tmp/cg/$tag"
  mkdir -p "$bench_tmp/cg/$tag"
  valgrind -q --tool=callgrind --trace-children=yes --compress-strings=no --compress-pos=no \
    --callgrind-out-file="$bench_tmp/cg/$tag/%p" "$@" >/dev/null 2>&1 || true
  awk '/^summary:/ { s += $2 } END { printf "%.1f", s / 1e6 }' "$bench_tmp"/cg/"$tag"/*
}

# Calls to function $2 from outside it (a library's export calling its driver's is one call)
# in the profiles of $1.
calls_of() {
  awk -v f="$2" '/^fn=/ { fn = substr($0, 4) } /^cfn=/ { cfn = substr($0, 5) }
    /^calls=/ { if (cfn == f && fn != f) { split(substr($0, 7), a, " "); n += a[1] } }
    END { print n + 0 }' "$bench_tmp"/cg/"$1"/*
}

# "hwspec a → b ms CPU, p → q page faults; the floor …" for BACKEND ($1) probed at level $2
# with the environment assignment $3 (or ""), then at level $4 with $5.
before_after() {
  local backend=$1 level_a=$2 env_a=$3 level_b=$4 env_b=$5 who line=""
  for who in hwspec floor; do
    local command=("$floor" --cache "$driver_cache" "$backend")
    [ "$who" = floor ] || command=("$hw" probe --fresh --trust-env --backend "$backend")
    local a ap b bp
    read -r a ap <<<"$(perf_of env ${env_a:+"$env_a"} "${command[@]}" --level "$level_a")"
    read -r b bp <<<"$(perf_of env ${env_b:+"$env_b"} "${command[@]}" --level "$level_b")"
    line+="${line:+; }$who $a → $b ms CPU, $ap → $bp page faults"
  done
  echo "${line//_/ }"
}

echo "## Profile: hwspec against the floor"
echo
echo "\`benches/floor/profile.sh $runs\`, $(date -u +%Y-%m-%d), $(nproc) cores of \"$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -1)\";"
echo "load average when it began: $load_before."
echo "hwspec is \`hwspec probe --fresh --backend X\` (the parent and one worker), the floor"
echo "\`run-floor X\` (the launcher and one floor program), both at standard; CPU time and page"
echo "faults are means of $runs runs (perf stat; \"sys\" is the part spent in the kernel),"
echo "instructions one run under callgrind (user space only), all summed over every process."
echo
echo "| backend | hwspec CPU (ms) | floor CPU (ms) | hwspec page faults | floor page faults | hwspec instructions (M) | floor instructions (M) |"
echo "|---|---:|---:|---:|---:|---:|---:|"
for backend in "${backends[@]}"; do
  read -r hc hp <<<"$(perf_of "$hw" probe --fresh --backend "$backend")"
  read -r fc fp <<<"$(perf_of "$floor" --cache "$driver_cache" "$backend")"
  callgrind_of warm "$floor" --cache "$driver_cache" "$backend" >/dev/null
  hi=$(callgrind_of "hwspec-$backend" "$hw" probe --fresh "${patient[@]}" --backend "$backend")
  fi=$(callgrind_of "floor-$backend" "$floor" --cache "$driver_cache" "$backend")
  echo "| $backend | ${hc//_/ } | ${fc//_/ } | $hp | $fp | $hi | $fi |"
done
echo

echo "### The suspects"
echo
echo "- CPU backend, quick → standard: $(before_after cpu quick "" standard "")."
echo "- Vulkan, quick → standard: $(before_after vulkan quick "" standard "")."
echo "- EGL, quick → standard: $(before_after egl quick "" standard "")."
echo "- OpenCL, one PoCL device → two, at standard:" \
  "$(before_after opencl standard POCL_DEVICES=pthread standard 'POCL_DEVICES=pthread pthread')."
echo "- OpenCL, one PoCL device → two, at quick:" \
  "$(before_after opencl quick POCL_DEVICES=pthread quick 'POCL_DEVICES=pthread pthread')."
contexts=()
for level in quick standard full; do
  callgrind_of "egl-$level" "$hw" probe --fresh "${patient[@]}" --level "$level" --backend egl >/dev/null
  contexts+=("$(calls_of "egl-$level" eglCreateContext)")
done
for level in quick standard; do
  callgrind_of "egl-floor-$level" "$floor" --cache "$driver_cache" --level "$level" egl >/dev/null
  contexts+=("$(calls_of "egl-floor-$level" eglCreateContext)")
done
echo "- EGL contexts created (eglCreateContext calls): hwspec ${contexts[0]} at quick," \
  "${contexts[1]} at standard, ${contexts[2]} at full; the floor ${contexts[3]} at quick," \
  "${contexts[4]} at standard. Instructions inside eglCreateContext and eglMakeCurrent, all" \
  "calls, at standard:" \
  "$(for tag in egl-standard egl-floor-standard; do
    profile=$(grep -l '^fn=eglCreateContext$' "$bench_tmp"/cg/"$tag"/* | head -1)
    callgrind_annotate --inclusive=yes "$profile" 2>/dev/null |
      awk -v who="${tag%-standard}" '/:eglCreateContext \[|:eglMakeCurrent \[/ { gsub(",", "", $1); s += $1 }
        END { printf "%s%s %.1f M", (who == "egl" ? "" : "; "), (who == "egl" ? "hwspec" : "the floor"), s / 1e6 }'
  done)."
for backend in cuda level_zero vaapi nvcodec hip; do
  read -r wc wp <<<"$(perf_of "$hw" __worker "$backend" standard)"
  read -r fc fp <<<"$(perf_of "$floors/floor-$backend" standard)"
  echo "- $backend worker alone: hwspec ${wc//_/ } ms CPU, $wp page faults; floor-$backend ${fc//_/ } ms, $fp page faults."
done
read -r pc pp <<<"$(perf_of "$hw" probe --fresh --backend cuda,level_zero,vaapi,nvcodec)"
read -r fc fp <<<"$(perf_of "$floor" --cache "$driver_cache" cuda level_zero vaapi nvcodec)"
echo "- the four absent backends together (cuda, level_zero, vaapi, nvcodec): hwspec ${pc//_/ } ms CPU," \
  "$pp page faults; the floor ${fc//_/ } ms, $fp page faults."
# gcc_offload's children: how often it sleeps while they run, and what it starts.
strace -f -qq -o "$bench_tmp/gcc.strace" -e trace=execve,clock_nanosleep,nanosleep \
  "$hw" probe --fresh --backend gcc_offload >/dev/null
sleeps=$(grep -c 'nanosleep(' "$bench_tmp/gcc.strace" || true)
execs=$(grep 'execve(' "$bench_tmp/gcc.strace" | grep -v ENOENT | sed 's/.*execve("\([^"]*\)".*/\1/' |
  xargs -n1 basename | sort | uniq -c | awk '{ printf "%s%s × %s", sep, $1, $2; sep = ", " }')
echo "- gcc_offload: $sleeps sleeps of its 5 ms poll in one standard probe; programs started: $execs."
# Concurrent cold checks: how many workers eight `hwspec check` start without a cached report.
find "$report_cache" -maxdepth 1 -name 'report-*.json' -delete
strace -f -qq -o "$bench_tmp/checks.strace" -e trace=execve \
  sh -c "for i in 1 2 3 4 5 6 7 8; do $hw check opencl & done; wait" >/dev/null
workers=$(grep -c 'execve(.*"__worker"' "$bench_tmp/checks.strace" || true)
echo "- 8 concurrent \`hwspec check opencl\` with no cached report started $workers workers" \
  "(one probe starts ${#backends[@]})."
echo
echo "Load average when it ended: $(bench_load)."
