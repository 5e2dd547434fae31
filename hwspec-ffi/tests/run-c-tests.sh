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
# Usage: hwspec-ffi/tests/run-c-tests.sh [--no-build]   (--no-build: install what target/debug has)
set -uo pipefail
cd "$(dirname "$0")/../.."
tests=hwspec-ffi/tests

install_args=(--profile debug) # debug: the tests need no speed, and it saves a release build
[ "${1:-}" = --no-build ] && install_args+=(--no-build)

tmp=$(mktemp -d "${TMPDIR:-/tmp}/hwspec-c-tests.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
prefix=$tmp/prefix
bin=$tmp/bin
mkdir -p "$bin/plain" "$bin/sanitized" "$bin/static"

passed=0
failed=0
failures=()
started=$(date +%s)

# step NAME COMMAND...: runs one check, its output indented, and counts it.
step() {
  local name=$1
  shift
  echo "== $name"
  if "$@" 2>&1 | sed 's/^/   /'; [ "${PIPESTATUS[0]}" -eq 0 ]; then
    echo "ok   $name"
    passed=$((passed + 1))
  else
    echo "FAIL $name"
    failed=$((failed + 1))
    failures+=("$name")
  fi
}

finish() {
  [ ${#failures[@]} -eq 0 ] || printf 'failed: %s\n' "${failures[@]}"
  echo "c-api: $passed passed, $failed failed ($(($(date +%s) - started)) s)"
  [ "$failed" -eq 0 ]
  exit
}

# The version every artefact must carry, from Cargo (the one source of truth).
version=$(cargo metadata --no-deps --format-version 1 --offline 2>/dev/null |
  python3 -c 'import json, sys
print(next(p["version"] for p in json.load(sys.stdin)["packages"] if p["name"] == "hwspec-ffi"))')
[ -n "$version" ] || { echo "run-c-tests: cannot read hwspec-ffi's version with cargo metadata" >&2; failed=1; finish; }

step "install into a temporary PREFIX" scripts/install-lib.sh "$prefix" "${install_args[@]}"
[ "$failed" -eq 0 ] || finish # nothing below can run without the installed library

export PKG_CONFIG_PATH=$prefix/lib/pkgconfig
export LD_LIBRARY_PATH=$prefix/lib

check_layout() {
  local lib=$prefix/lib ok=0
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
  label="pkg-config points at PREFIX" expect sh -c "pkg-config --cflags --libs hwspec | grep -q -- '-I$prefix/include' && pkg-config --libs hwspec | grep -q -- '-L$lib'"
  label="libexec/hwspec/hwspec-worker is executable" expect test -x "$prefix/libexec/hwspec/hwspec-worker"
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
  step "compile $p.c with ASan+UBSan" cc "${cflags[@]}" -O1 "${sanitize[@]}" -o "$bin/sanitized/$p" "$(source_of "$p")" $(pkg-config --cflags --libs hwspec)
done

# Each run: the program and its arguments; threads twice, once in a host that ignores SIGCHLD.
runs=("probe" "errors $version" "threads" "threads --ignore-sigchld" "doc-example")

for run in "${runs[@]}"; do
  read -r -a argv <<<"$run"
  step "run $run" timeout 180 "$bin/plain/${argv[0]}" "${argv[@]:1}"
done

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

step "Python bindings (unittest)" env PYTHONDONTWRITEBYTECODE=1 HWSPEC_LIBRARY="$prefix/lib/libhwspec.so.0" \
  HWSPEC_EXPECTED_VERSION="$version" python3 -m unittest discover -s python/tests -v

# Static linking: a directory holding only libhwspec.a comes first in the search path, so
# -lhwspec resolves to the archive, and Libs.private of the .pc must name all it needs.
static_link() {
  mkdir -p "$tmp/static-lib" && cp "$prefix/lib/libhwspec.a" "$tmp/static-lib/" || return 1
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
