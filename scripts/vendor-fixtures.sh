#!/usr/bin/env bash
# Fetches the real vendor user space Debian ships (NVIDIA 535 from non-free, Intel's compute
# runtime and Mesa's Clover/Rusticl from main) and unpacks it into a fixture root, for the
# real-driver test matrix (tests/vendor.rs). Nothing is installed and the machine's apt
# sources are not touched: a private sources list (adding contrib and non-free) with its own
# state and cache directories drives `apt-get download`, and `dpkg-deb -x` unpacks.
#
# Prints the fixture directory on stdout and exits 0, or prints why it cannot and exits 3
# (no network, not amd64, no apt): the tests then say so and skip. Run again, it reuses what
# it fetched; it resolves again (apt-get update) only when the installed packages changed,
# since the packages it must fetch are those the machine lacks.
#
# Cache: $HWSPEC_VENDOR_CACHE, else ${XDG_CACHE_HOME:-$HOME/.cache}/hwspec/vendor-fixtures
# (about 130 MB of .deb files and 650 MB unpacked). Delete it to start over.
#
# Layout of the fixture directory:
#   root/      the unpacked packages
#   conf/      copies of their OpenCL ICD files, Vulkan manifests and EGL vendor files, with
#              every library named by its path under root/ (the originals name bare sonames
#              or /usr paths): conf/opencl/*.icd, conf/vulkan/*.json, conf/egl/*.json
#   env        LD_LIBRARY_PATH to put the unpacked libraries in front
#   versions   package=version, one per line, of every package unpacked
set -euo pipefail

# The packages the matrix probes; apt adds whatever of their dependencies this machine lacks.
packages=(
  libcuda1 libnvidia-ptxjitcompiler1 nvidia-opencl-icd
  nvidia-vulkan-icd nvidia-vulkan-common libglx-nvidia0
  libnvcuvid1 libnvidia-encode1 libegl-nvidia0 nvidia-egl-icd libnvidia-ml1
  intel-opencl-icd mesa-opencl-icd
)

cache=${HWSPEC_VENDOR_CACHE:-${XDG_CACHE_HOME:-${HOME:-/root}/.cache}/hwspec/vendor-fixtures}
unavailable() {
  echo "vendor-fixtures: unavailable: $*" >&2
  exit 3
}

[ "$(uname -m)" = x86_64 ] || unavailable "the package set is amd64's; this is $(uname -m)"
command -v apt-get >/dev/null && command -v dpkg-deb >/dev/null ||
  unavailable "apt-get and dpkg-deb are needed"
mkdir -p "$cache"
cd "$cache"

status_hash=$(sha256sum /var/lib/dpkg/status | cut -d' ' -f1)
if [ -f ready ] && [ "$(cat ready)" = "$status_hash" ]; then
  echo "$cache"
  exit 0
fi

mkdir -p apt/lists/partial apt/archives/partial debs
cat >apt/sources.list <<'EOF'
deb [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] http://deb.debian.org/debian bookworm main contrib non-free
deb [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] http://deb.debian.org/debian bookworm-updates main contrib non-free
deb [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] http://deb.debian.org/debian-security bookworm-security main contrib non-free
EOF
apt_opts=(
  -o "Dir::Etc::SourceList=$cache/apt/sources.list"
  -o Dir::Etc::SourceParts=/dev/null
  -o "Dir::State::Lists=$cache/apt/lists"
  -o "Dir::Cache=$cache/apt"
  -o "Dir::Cache::Archives=$cache/apt/archives"
  -o Debug::NoLocking=1
  -o APT::Sandbox::User=root
  -o Acquire::Retries=2
)

started=$SECONDS
if ! apt-get "${apt_opts[@]}" -qq update >apt/update.log 2>&1; then
  if [ -d root ] && [ -f versions ]; then
    # Offline, but an earlier fetch is there: the installed packages changed since, which may
    # only mean fewer of them are needed. Use it rather than skip.
    echo "vendor-fixtures: apt-get update failed; reusing $cache" >&2
    echo "$cache"
    exit 0
  fi
  unavailable "apt-get update failed (no network?): $(tail -n 3 apt/update.log | tr '\n' ' ')"
fi

# What this machine lacks to run them, as apt would install it; never recommends.
mapfile -t wanted < <(
  apt-get "${apt_opts[@]}" -s --no-install-recommends install "${packages[@]}" 2>&1 |
    awk '/^Inst /{ v=$3; gsub(/[()]/, "", v); print $2 "=" v }'
)
[ ${#wanted[@]} -gt 0 ] || unavailable "apt resolved nothing to fetch for ${packages[*]}"

(cd debs && apt-get "${apt_opts[@]}" -qq download "${wanted[@]}" >../apt/download.log 2>&1) ||
  unavailable "apt-get download failed: $(tail -n 3 apt/download.log | tr '\n' ' ')"

rm -rf root.new conf.new
mkdir -p root.new
: >versions.new
for spec in "${wanted[@]}"; do
  name=${spec%%=*}
  version=${spec#*=}
  deb=$(ls debs/"${name}"_*.deb 2>/dev/null | while read -r f; do
    [ "$(dpkg-deb -f "$f" Version)" = "$version" ] && echo "$f"
  done | head -n 1)
  [ -n "$deb" ] || unavailable "apt-get download left no .deb for $spec"
  dpkg-deb -x "$deb" root.new
  echo "$spec" >>versions.new
done

# Library directories of the unpacked packages: NVIDIA's live under nvidia/current (Debian
# puts them there for its alternatives), Intel's OpenCL ICD under intel-opencl.
lib=root.new/usr/lib/x86_64-linux-gnu
libdirs=("$lib/nvidia/current" "$lib" "$lib/intel-opencl")

# A library a manifest names, as a path under the fixture root: an absolute /usr path is moved
# under root/, a bare soname is looked up in the library directories.
locate() {
  local named=$1 dir
  if [ "${named#/}" != "$named" ]; then
    echo "$cache/root$named"
    return
  fi
  for dir in "${libdirs[@]}"; do
    if [ -e "$dir/$named" ]; then
      echo "$cache/root${dir#root.new}/$named"
      return
    fi
  done
  unavailable "no unpacked file for $named"
}

mkdir -p conf.new/opencl conf.new/vulkan conf.new/egl
for icd in root.new/etc/OpenCL/vendors/*.icd; do
  locate "$(head -n 1 "$icd")" >"conf.new/opencl/$(basename "$icd")"
done
rewrite_json() {
  local from=$1 to=$2 named
  named=$(sed -n 's/.*"library_path" *: *"\([^"]*\)".*/\1/p' "$from" | head -n 1)
  sed "s|\"library_path\" *: *\"[^\"]*\"|\"library_path\" : \"$(locate "$named")\"|" "$from" >"$to"
}
for json in root.new/usr/share/vulkan/icd.d/*.json; do
  rewrite_json "$json" "conf.new/vulkan/$(basename "$json")"
done
for json in root.new/usr/share/glvnd/egl_vendor.d/*.json; do
  rewrite_json "$json" "conf.new/egl/$(basename "$json")"
done
(
  IFS=:
  echo "LD_LIBRARY_PATH=${libdirs[*]//root.new/$cache/root}"
) >env.new

rm -rf root conf
mv root.new root
mv conf.new conf
mv env.new env
mv versions.new versions
echo "$status_hash" >ready
echo "vendor-fixtures: fetched and unpacked ${#wanted[@]} packages in $((SECONDS - started)) s into $cache" >&2
echo "$cache"
