#!/usr/bin/env bash
# Tests libhwspec as its users get it: installed by scripts/install-lib.sh into a temporary
# PREFIX, found through pkg-config, loaded by the dynamic linker.
#
#   1. the install layout: versioned .so and its symlinks, SONAME, .a, header, .pc, worker;
#   2. the C tests (probe, errors, threads, threads with SIGCHLD ignored, the example program of
#      docs/c-api.md)
#      built with -Wall -Wextra -Werror and run;
#   3. the same built with AddressSanitizer + UndefinedBehaviorSanitizer (LeakSanitizer on);
#   4. the same under valgrind: no errors, no definite leaks;
#   5. the Python bindings' unittest suite against the installed library;
#   6. probe.c linked statically against libhwspec.a with `pkg-config --static`.
#
# Prints one line per step and closes with `c-api: N passed, M failed`; exits 1 if any failed.
# Usage: hwspec-ffi/tests/run-c-tests.sh [--no-build | --installed]
#   --no-build   install what target/debug has instead of building
#   --installed  test the library the system has (the libhwspec0, libhwspec-dev and
#                python3-hwspec packages), found through pkg-config and the dynamic linker:
#                steps 1, 2, 5 and 6; the sanitizer and valgrind runs (3, 4) check the same
#                sources and are left to the run against a temporary PREFIX
set -uo pipefail
cd "$(dirname "$0")/../.."
tests=hwspec-ffi/tests

install_args=(--profile debug) # debug: the tests need no speed, and it saves a release build
installed=0
case "${1:-}" in
  --no-build) install_args+=(--no-build) ;;
  --installed) installed=1 ;;
  "") ;;
  *) echo "usage: $0 [--no-build | --installed]" >&2; exit 2 ;;
esac

tmp=$(mktemp -d "${TMPDIR:-/tmp}/hwspec-c-tests.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
prefix=$tmp/prefix
bin=$tmp/bin
mkdir -p "$bin/plain" "$bin/sanitized" "$bin/static"

# shellcheck source=../../tests/steps.sh
. tests/steps.sh
steps_name=c-api

# The version every artefact must carry, from Cargo (the one source of truth).
version=$(cargo metadata --no-deps --format-version 1 --offline 2>/dev/null |
  python3 -c 'import json, sys
print(next(p["version"] for p in json.load(sys.stdin)["packages"] if p["name"] == "hwspec-ffi"))')
[ -n "$version" ] || { echo "run-c-tests: cannot read hwspec-ffi's version with cargo metadata" >&2; failed=1; finish; }

if [ "$installed" -eq 1 ]; then
  step "pkg-config finds the installed hwspec.pc" pkg-config --exists --print-errors hwspec
  [ "$failed" -eq 0 ] || finish
  prefix=$(pkg-config --variable=prefix hwspec)
  libdir=$(pkg-config --variable=libdir hwspec)
else
  step "install into a temporary PREFIX" scripts/install-lib.sh "$prefix" "${install_args[@]}"
  [ "$failed" -eq 0 ] || finish # nothing below can run without the installed library
  libdir=$prefix/lib
  export PKG_CONFIG_PATH=$libdir/pkgconfig
  export LD_LIBRARY_PATH=$libdir
fi
worker=$(pkg-config --variable=worker hwspec)

check_layout() {
  local lib=$libdir ok=0
  expect() { if "$@"; then echo "ok: $label"; else echo "FAIL: $label"; ok=1; fi; }
  label="lib/libhwspec.so.$version is a file" expect test -f "$lib/libhwspec.so.$version" -a ! -L "$lib/libhwspec.so.$version"
  label="libhwspec.so.0 -> libhwspec.so.$version" expect test "$(readlink "$lib/libhwspec.so.0")" = "libhwspec.so.$version"
  label="libhwspec.so -> libhwspec.so.0" expect test "$(readlink "$lib/libhwspec.so")" = libhwspec.so.0
  local soname
  soname=$(readelf -d "$lib/libhwspec.so.$version" | sed -n 's/.*(SONAME).*\[\(.*\)\].*/\1/p')
  label="SONAME is libhwspec.so.0 (found: $soname)" expect test "$soname" = libhwspec.so.0
  label="lib/libhwspec.a is an archive" expect sh -c "ar t '$lib/libhwspec.a' >/dev/null"
  label="include/hwspec.h" expect test -f "$prefix/include/hwspec.h"
  label="lib/pkgconfig/hwspec.pc" expect test -f "$lib/pkgconfig/hwspec.pc"
  local pc_version
  pc_version=$(pkg-config --modversion hwspec)
  label="hwspec.pc Version $pc_version = Cargo's $version" expect test "$pc_version" = "$version"
  label="hwspec.h says HWSPEC_VERSION \"$version\"" expect grep -q "define HWSPEC_VERSION \"$version\"" "$prefix/include/hwspec.h"
  # pkg-config leaves out the system's own directories, where the packages install.
  [ "$installed" -eq 1 ] ||
    label="pkg-config points at PREFIX" expect sh -c "pkg-config --cflags --libs hwspec | grep -q -- '-I$prefix/include' && pkg-config --libs hwspec | grep -q -- '-L$lib'"
  label="the worker $worker is executable" expect test -x "$worker"
  label="the library runs its probes through $worker" expect grep -qaF "$worker" "$lib/libhwspec.so.$version"
  label="the library does not need a vendor runtime" expect sh -c "! readelf -d '$lib/libhwspec.so.$version' | grep -E 'NEEDED.*(OpenCL|vulkan|cuda|amdhip|ze_loader)'"
  return $ok
}
step "install layout" check_layout

# The documented example, extracted verbatim: the first ```c block of docs/c-api.md that has a
# main(), so the documentation cannot drift from what compiles and runs.
programs=(probe errors threads doc-example)
awk '/^```c[[:space:]]*$/ {inside = 1; block = ""; next}
     inside && /^```/ {inside = 0; if (!done && block ~ /main\(/) {printf "%s", block; done = 1}; next}
     inside {block = block $0 "\n"}' docs/c-api.md >"$tmp/doc-example.c"
step "docs/c-api.md has a complete example program" test -s "$tmp/doc-example.c"
source_of() { if [ "$1" = doc-example ]; then echo "$tmp/doc-example.c"; else echo "$tests/$1.c"; fi; }

# Flags as the issue gives them; -pthread for threads.c (glibc >= 2.34 needs no -lpthread, but
# the flag keeps older toolchains working). Word splitting of pkg-config's output is intended.
cflags=(-std=c11 -Wall -Wextra -Werror -g -pthread)
sanitize=(-fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined)
for p in "${programs[@]}"; do
  # shellcheck disable=SC2046
  step "compile $p.c" cc "${cflags[@]}" -O2 -o "$bin/plain/$p" "$(source_of "$p")" $(pkg-config --cflags --libs hwspec)
  # shellcheck disable=SC2046
  [ "$installed" -eq 1 ] ||
    step "compile $p.c with ASan+UBSan" cc "${cflags[@]}" -O1 "${sanitize[@]}" -o "$bin/sanitized/$p" "$(source_of "$p")" $(pkg-config --cflags --libs hwspec)
done

# Each run: the program and its arguments; threads twice, once in a host that ignores SIGCHLD.
runs=("probe" "errors $version" "threads" "threads --ignore-sigchld" "doc-example")

for run in "${runs[@]}"; do
  read -r -a argv <<<"$run"
  step "run $run" timeout 180 "$bin/plain/${argv[0]}" "${argv[@]:1}"
done

if [ "$installed" -eq 0 ]; then
  # LeakSanitizer is on by default with ASan on x86-64; said explicitly because it is the point.
  # The Rust library is not instrumented, but its allocations go through the intercepted malloc,
  # so leaks on either side of the ABI are found (checked: leaving out hwspec_report_free fails
  # this run). No suppressions are needed: Rust's runtime and thread-locals report no leaks.
  export ASAN_OPTIONS=detect_leaks=1:halt_on_error=1:detect_stack_use_after_return=1
  export UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1
  for run in "${runs[@]}"; do
    read -r -a argv <<<"$run"
    step "ASan+UBSan run $run" timeout 300 "$bin/sanitized/${argv[0]}" "${argv[@]:1}"
  done
  unset ASAN_OPTIONS UBSAN_OPTIONS

  # valgrind checks the uninstrumented build, the Rust side included. Workers are separate
  # programs started with exec and not ours to check here: --trace-children=no.
  valgrind=(valgrind -q --error-exitcode=99 --leak-check=full --errors-for-leak-kinds=definite
    --show-leak-kinds=definite --trace-children=no)
  for run in "probe" "errors $version" "threads" "threads --ignore-sigchld"; do
    read -r -a argv <<<"$run"
    step "valgrind $run" timeout 400 "${valgrind[@]}" "$bin/plain/${argv[0]}" "${argv[@]:1}"
  done
fi

if [ "$installed" -eq 1 ]; then
  # The module python3-hwspec installed, loading the library through the dynamic linker, in
  # the Python the package is for: Debian's, whichever python3 comes first on PATH.
  step "Python bindings (unittest)" env PYTHONDONTWRITEBYTECODE=1 \
    HWSPEC_TEST_INSTALLED=/usr/lib/python3/dist-packages HWSPEC_EXPECTED_VERSION="$version" \
    /usr/bin/python3 -m unittest discover -s python/tests -v
else
  step "Python bindings (unittest)" env PYTHONDONTWRITEBYTECODE=1 HWSPEC_LIBRARY="$libdir/libhwspec.so.0" \
    HWSPEC_EXPECTED_VERSION="$version" python3 -m unittest discover -s python/tests -v
fi

# Static linking: a directory holding only libhwspec.a comes first in the search path, so
# -lhwspec resolves to the archive, and Libs.private of the .pc must name all it needs.
static_link() {
  mkdir -p "$tmp/static-lib" && cp "$libdir/libhwspec.a" "$tmp/static-lib/" || return 1
  # shellcheck disable=SC2046
  cc "${cflags[@]}" -O2 -o "$bin/static/probe" "$tests/probe.c" -L"$tmp/static-lib" \
    $(pkg-config --static --cflags --libs hwspec) || return 1
  if readelf -d "$bin/static/probe" | grep -q 'NEEDED.*libhwspec'; then
    echo "FAIL: the static build still needs libhwspec.so"
    return 1
  fi
  echo "ok: linked without libhwspec.so"
  env -u LD_LIBRARY_PATH timeout 180 "$bin/static/probe"
}
step "static link against libhwspec.a (pkg-config --static)" static_link

finish
