#!/usr/bin/env bash
# Installs libhwspec under a prefix: the shared library with its SONAME symlinks, the static
# library, the header, the pkg-config file, and the worker executable the library runs probes
# through (a copy of the `hwspec` CLI, which is also the worker).
#
#   scripts/install-lib.sh PREFIX [--no-build] [--profile debug|release]
#
# Builds first (release unless told otherwise) with the worker path fixed at
# PREFIX/libexec/hwspec/hwspec-worker; --no-build installs what target/<profile> already has.
# Says what it installed on stderr; any failure stops it with a non-zero status.
set -euo pipefail
cd "$(dirname "$0")/.."

usage() {
  echo "usage: $0 PREFIX [--no-build] [--profile debug|release]" >&2
  exit 2
}

prefix=""
build=1
profile=release
while [ $# -gt 0 ]; do
  case "$1" in
    --no-build) build=0 ;;
    --profile)
      [ $# -ge 2 ] || usage
      profile="$2"
      shift
      ;;
    --profile=*) profile="${1#--profile=}" ;;
    -h | --help) usage ;;
    -*) echo "$0: unknown option $1" >&2; usage ;;
    *)
      [ -z "$prefix" ] || usage
      prefix="$1"
      ;;
  esac
  shift
done
[ -n "$prefix" ] || usage
case "$profile" in
  debug | release) ;;
  *) echo "$0: --profile is debug or release, not $profile" >&2; exit 2 ;;
esac
# The worker path is compiled into the library, so it must not depend on the directory this
# script was run from.
mkdir -p "$prefix"
prefix="$(cd "$prefix" && pwd)"

version="$(sed -n 's/^#define HWSPEC_VERSION "\(.*\)"$/\1/p' hwspec-ffi/include/hwspec.h)"
[ -n "$version" ] || { echo "$0: no HWSPEC_VERSION in hwspec-ffi/include/hwspec.h" >&2; exit 1; }
major="${version%%.*}"
worker="$prefix/libexec/hwspec/hwspec-worker"

if [ "$build" -eq 1 ]; then
  release=()
  [ "$profile" = release ] && release=(--release)
  echo "install-lib.sh: building ($profile) with the worker at $worker" >&2
  HWSPEC_WORKER_PATH="$worker" cargo build "${release[@]}" -p hwspec-ffi -p hwspec-cli
fi

target="${CARGO_TARGET_DIR:-target}/$profile"
for artefact in libhwspec.so libhwspec.a hwspec; do
  [ -f "$target/$artefact" ] || {
    echo "$0: $target/$artefact is missing; build it, or run without --no-build" >&2
    exit 1
  }
done

installed=()
put() { # put MODE SOURCE DESTINATION
  install -D -m "$1" "$2" "$3"
  installed+=("$3")
}
link() { # link TARGET NAME
  ln -sfn "$1" "$2"
  installed+=("$2 -> $1")
}

lib="$prefix/lib"
put 0755 "$target/libhwspec.so" "$lib/libhwspec.so.$version"
link "libhwspec.so.$version" "$lib/libhwspec.so.$major"
link "libhwspec.so.$major" "$lib/libhwspec.so"
put 0644 "$target/libhwspec.a" "$lib/libhwspec.a"
put 0644 hwspec-ffi/include/hwspec.h "$prefix/include/hwspec.h"
pc="$(mktemp)"
trap 'rm -f "$pc"' EXIT
sed -e "s|@PREFIX@|$prefix|g" -e "s|@LIBDIR@|$lib|g" -e "s|@WORKER@|$worker|g" \
  -e "s|@VERSION@|$version|g" hwspec-ffi/hwspec.pc.in >"$pc"
put 0644 "$pc" "$lib/pkgconfig/hwspec.pc"
put 0755 "$target/hwspec" "$worker"

echo "install-lib.sh: installed libhwspec $version under $prefix:" >&2
printf '  %s\n' "${installed[@]}" >&2
# The library finds its worker at the path it was built with; --no-build may install one
# built for another prefix, which then needs HWSPEC_WORKER or hwspec_options_set_worker().
if ! grep -qaF "$worker" "$lib/libhwspec.so.$version"; then
  echo "install-lib.sh: warning: this libhwspec was not built for $prefix; it will not find" \
    "$worker unless HWSPEC_WORKER names it (rebuild without --no-build to fix)" >&2
fi
