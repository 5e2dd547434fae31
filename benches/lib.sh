# Shared by benches/compare.sh and benches/floor/profile.sh (sourced, from the repository root):
# the tools they need, a private cache for everything hwspec writes, and the builds they time.

# Installs the measuring tools and the floor programs' headers where they are missing.
bench_install() {
  local need=() tool
  for tool in hyperfine:hyperfine clinfo:clinfo vulkaninfo:vulkan-tools rocminfo:rocminfo jq:jq \
    valgrind:valgrind perf:linux-perf cc:gcc; do
    command -v "${tool%%:*}" >/dev/null || need+=("${tool#*:}")
  done
  local header
  for header in opencl-c-headers libvulkan-dev libegl-dev libgles-dev; do
    [ "$(dpkg-query -W -f='${db:Status-Status}' "$header" 2>/dev/null)" = installed ] ||
      need+=("$header")
  done
  if [ ${#need[@]} -gt 0 ]; then
    local sudo=()
    [ "$(id -u)" -eq 0 ] || sudo=(sudo -n)
    DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get -o DPkg::Lock::Timeout=600 update -qq
    DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get -o DPkg::Lock::Timeout=600 \
      install -y -qq "${need[@]}" </dev/null
  fi
}

# Everything a benchmark needs before it measures, in order: the tools, a private cache, the
# builds, and warm caches. Call as `bench_setup "$@"` before anything else is done.
bench_setup() {
  bench_install
  bench_private "$@"
  load_before=$(bench_load)
  bench_build
}

# Re-runs the calling script so that hwspec's report and driver caches are its own: as root in a
# private mount namespace with a tmpfs over /var/cache (where root's caches live), so that a
# benchmark may remove cached reports without touching the machine's; otherwise with
# XDG_CACHE_HOME in a temporary directory. Sets $bench_tmp (removed on exit), $report_cache and
# $driver_cache.
bench_private() {
  if [ "$(id -u)" -eq 0 ] && [ -z "${HWSPEC_BENCH_PRIVATE:-}" ]; then
    exec env HWSPEC_BENCH_PRIVATE=1 unshare --mount --propagation private -- "$0" "$@"
  fi
  bench_tmp=$(mktemp -d)
  trap 'rm -rf "$bench_tmp"' EXIT
  if [ "$(id -u)" -eq 0 ]; then
    mount -t tmpfs -o mode=0755 hwspec-bench /var/cache
    report_cache=/var/cache/hwspec
  else
    export XDG_CACHE_HOME=$bench_tmp/xdg-cache
    report_cache=$XDG_CACHE_HOME/hwspec
  fi
  driver_cache=$report_cache/driver-cache
}

# Builds the release hwspec ($hw) and the floor programs ($floors; run-floor: $floor), and runs
# each once so that every driver cache is warm, as on any machine that has probed before. The
# floor shares hwspec's driver cache (run-floor --cache "$driver_cache"): the same PoCL and Mesa
# entries, and the same OpenCL program binary, whose file name both derive from the same key.
bench_build() {
  cargo build --release --locked -q -p hwspec-cli
  hw=$PWD/target/release/hwspec
  floors=$PWD/target/floor
  benches/floor/build.sh "$floors" >&2
  floor=$floors/run-floor
  "$hw" probe >/dev/null
  "$hw" probe --level quick >/dev/null
  "$hw" check opencl >/dev/null || true
  "$floor" --level quick --cache "$driver_cache" >/dev/null || true
  local status=0
  "$floor" --cache "$driver_cache" >"$bench_tmp/floor-answers" || status=$?
  cat "$bench_tmp/floor-answers" >&2
  # 3: a floor found a device it does not validate; that backend's floor is then not timed.
  if [ "$status" -ne 0 ] && [ "$status" -ne 3 ]; then
    echo "the floor programs failed (status $status): nothing to measure against" >&2
    exit 1
  fi
  uncovered=$(awk '$2 == "uncovered:" { print $1 }' "$bench_tmp/floor-answers")
}

# The 1-, 5- and 15-minute load averages.
bench_load() { cut -d' ' -f1-3 /proc/loadavg; }
