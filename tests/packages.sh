#!/usr/bin/env bash
# Tests hwspec's Debian packages as an operator gets them, with the real tools:
#
#   1. scripts/build-debs.sh builds hwspec, libhwspec0, libhwspec-dev and python3-hwspec;
#   2. lintian: no errors, and every other tag it prints is listed with its reason in
#      docs/packaging.md (and nothing listed there is gone);
#   3. `apt-get install ./*.deb`, then against the installed packages:
#      - /usr/bin/hwspec, its man pages (and every page their SEE ALSO names), completions, and
#        that it ignores HWSPEC_TEST_FAULT (the test suites' fault hook is not in a release);
#      - libhwspec through pkg-config and python3-hwspec (hwspec-ffi/tests/run-c-tests.sh
#        --installed);
#      - apt: a package whose requirement is unmet is warned about and installed; with
#        Hwspec::Refuse apt stops before dpkg runs; an upgrade is warned about, not refused;
#        hwspec removed but not purged, or crashing, never breaks apt;
#      - autopkgtest (null virt-server) on tests/fixtures/debian-demo: `Depends: @, hwspec`
#        resolves to the installed hwspec, the test needing cuda is SKIP, the one needing
#        opencl PASS;
#      - systemd: the service and timer pass `systemd-analyze verify`, and the service's
#        ExecStart writes the Node Feature Discovery features file;
#   4. `apt-get purge` of everything step 3 installed, then a check that the packages' files,
#      conffiles, cache, features file and systemd state are gone and dpkg's database is as
#      it was.
#
# Other processes on this machine must never see the packages: steps 3 and 4 run in a private
# mount namespace whose /usr, /etc and /var are overlays of the real ones, so apt, dpkg and the
# maintainer scripts work on the real system's files but every change stays in the namespace
# and vanishes with it. Where no namespace can be made (no CAP_SYS_ADMIN, no overlayfs) they
# run on the system itself, with a trap that purges whatever was installed.
#
# Prints one line per step and closes with `packages: N passed, M failed`; exits 1 if any
# failed. Usage: tests/packages.sh [--debs DIR]   (DIR: packages built already, e.g. by CI)
set -uo pipefail
cd "$(dirname "$0")/.."
repo=$(pwd)
export LC_ALL=C # sort and comm must agree

debs=""
inside=0
while [ $# -gt 0 ]; do
  case "$1" in
    --debs) debs=$(cd "$2" && pwd) || exit 2; shift ;;
    --inside) inside=1 ;;
    *) echo "usage: $0 [--debs DIR]" >&2; exit 2 ;;
  esac
  shift
done

# shellcheck source=steps.sh
. tests/steps.sh
steps_name=packages
# The namespace's half of the run continues the count of the first half.
passed=${HWSPEC_PACKAGES_PASSED:-0}
failed=${HWSPEC_PACKAGES_FAILED:-0}
[ -z "${HWSPEC_PACKAGES_FAILURES:-}" ] || mapfile -t failures <<<"$HWSPEC_PACKAGES_FAILURES"
started=${HWSPEC_PACKAGES_STARTED:-$started}

# --- 1, 2: outside any namespace -----------------------------------------------------------

lintian_tags() { # the documented tags: the first column of docs/packaging.md's lintian table
  sed -n '/^## lintian/,/^## /s/^| `\([a-z0-9-]*\)` |.*/\1/p' docs/packaging.md | sort -u
}

check_lintian() {
  local out errors emitted documented
  out=$(lintian --pedantic --display-info --display-experimental --tag-display-limit 0 \
    "$debs"/hwspec_*.changes 2>&1)
  echo "$out" | grep -E '^[EWIPX]: '
  errors=$(echo "$out" | grep -c '^E: ')
  emitted=$(echo "$out" | sed -n 's/^[WIPX]: [^:]*: \([a-z0-9-]*\).*/\1/p' | sort -u)
  documented=$(lintian_tags)
  local ok=0
  [ "$errors" -eq 0 ] || { echo "lintian reports $errors error(s)"; ok=1; }
  local undocumented gone
  undocumented=$(comm -23 <(echo "$emitted") <(echo "$documented") | sed '/^$/d')
  gone=$(comm -13 <(echo "$emitted") <(echo "$documented") | sed '/^$/d')
  [ -z "$undocumented" ] || { echo "not listed in docs/packaging.md: $undocumented"; ok=1; }
  [ -z "$gone" ] || { echo "listed in docs/packaging.md but no longer reported: $gone"; ok=1; }
  return $ok
}

if [ "$inside" -eq 0 ]; then
  if [ -z "$debs" ]; then
    debs=$repo/target/debian
    step "build the packages (scripts/build-debs.sh)" scripts/build-debs.sh "$debs" || finish
  fi
  if command -v lintian >/dev/null; then
    step "lintian: no errors, every other tag listed in docs/packaging.md" check_lintian
  else
    echo "SKIP lintian: not installed (scripts/test.sh installs it)"
  fi

  # unshare(1) with a private mount propagation, and overlayfs over /usr, /etc and /var.
  ns=$(mktemp -d "${TMPDIR:-/tmp}/hwspec-packages.XXXXXX")
  # The namespace's own script: mount the overlays, then run this script's steps 3 and 4.
  # shellcheck disable=SC2016
  inner='set -e
    ns=$1; shift
    mount -t tmpfs hwspec-packages "$ns"
    for d in usr etc var; do
      mkdir -p "$ns/$d/upper" "$ns/$d/work"
      mount -t overlay overlay -o "lowerdir=/$d,upperdir=$ns/$d/upper,workdir=$ns/$d/work" "/$d"
    done
    HWSPEC_PACKAGES_UPPER=$ns exec "$@"'
  if unshare --mount --propagation private sh -c "$inner" sh "$ns" true 2>/dev/null; then
    echo "== installing in a private mount namespace (overlays on /usr, /etc, /var)"
    HWSPEC_PACKAGES_PASSED=$passed HWSPEC_PACKAGES_FAILED=$failed HWSPEC_PACKAGES_STARTED=$started \
      HWSPEC_PACKAGES_FAILURES=$(printf '%s\n' "${failures[@]}") \
      unshare --mount --propagation private sh -c "$inner" sh "$ns" \
      "$repo/tests/packages.sh" --inside --debs "$debs"
    status=$?
    rmdir "$ns"
    exit $status
  fi
  rmdir "$ns"
  echo "== no private mount namespace here: installing on this system, purging on exit"
fi

# --- 3, 4: the installed packages ----------------------------------------------------------

export DEBIAN_FRONTEND=noninteractive
apt_get=(apt-get -y -q -o DPkg::Lock::Timeout=600 -o APT::Color=0)
work=$(mktemp -d "${TMPDIR:-/tmp}/hwspec-packages-work.XXXXXX")
features_dir=/etc/kubernetes/node-feature-discovery/features.d

# Everything dpkg knows, one line per package; what is installed at the start.
dpkg_state() { dpkg-query -W -f '${binary:Package} ${Version} ${db:Status-Abbrev}\n' | sort; }
dpkg_state >"$work/dpkg-before"
installed_before() { sed -n 's/^\([^ ]*\) .* ii *$/\1/p' "$work/dpkg-before"; }

# What this run installed: every package installed now that was not at the start.
new_packages() {
  comm -13 <(installed_before) <(dpkg_state | sed -n 's/^\([^ ]*\) .* ii *$/\1/p')
}

purge_all() {
  local new
  new=$(new_packages)
  [ -z "$new" ] || "${apt_get[@]}" purge $new >"$work/purge.log" 2>&1
}
# On the system itself (no namespace), nothing may stay installed whatever happens.
if [ "$inside" -eq 1 ]; then trap 'rm -rf "$work"' EXIT; else trap 'purge_all; rm -rf "$work"' EXIT; fi

# A fresh machine: root's report cache belongs to whoever ran hwspec before (in the namespace,
# hiding it changes nothing outside).
if [ "$inside" -eq 1 ]; then rm -rf /var/cache/hwspec; fi
[ ! -e /var/cache/hwspec ] || echo "note: /var/cache/hwspec exists already; the purge check skips it"
had_cache=$([ -e /var/cache/hwspec ] && echo 1 || echo 0)
snapshot() { # what the packages and their maintainer scripts touch, and anything named hwspec
  find /etc/apt/apt.conf.d /etc/systemd/system /etc/kubernetes \
    /var/lib/systemd/deb-systemd-helper-enabled /var/lib/systemd/deb-systemd-helper-masked \
    2>/dev/null
  [ "$had_cache" -eq 1 ] || find /var/cache/hwspec 2>/dev/null
  find / -xdev \( -path /proc -o -path /sys -o -path /dev -o -path /tmp -o -path /run \
    -o -path /work -o -path /root -o -path /home -o -path /var/cache/hwspec \) -prune \
    -o -name '*hwspec*' -print 2>/dev/null
}
snapshot | sort >"$work/files-before"
# In the namespace, everything under the overlaid directories, to judge the upper layers by.
[ "$inside" -eq 0 ] || find /usr /etc /var -xdev 2>/dev/null | sort >"$work/files-all-before"

install_packages() { "${apt_get[@]}" install "$debs"/*.deb; }
step "apt-get install ./*.deb" install_packages || finish

# --- the command, its pages and completions

check_command() {
  local ok=0
  [ "$(command -v hwspec)" = /usr/bin/hwspec ] || { echo "hwspec is $(command -v hwspec)"; ok=1; }
  /usr/bin/hwspec --version || ok=1
  /usr/bin/hwspec check opencl || { echo "hwspec check opencl: $?"; ok=1; }
  [ -d /var/cache/hwspec ] || { echo "no /var/cache/hwspec"; ok=1; }
  dpkg-query -W -f '${Conffiles}\n' hwspec | grep -q ' /etc/apt/apt.conf.d/50hwspec ' ||
    { echo "50hwspec is not a conffile"; ok=1; }
  return $ok
}
step "/usr/bin/hwspec runs and answers" check_command

# The test suites' fault hook (cargo feature fault-injection) must not be in a release build:
# an installed hwspec ignores HWSPEC_TEST_FAULT, so no variable makes it report a crash.
check_no_fault_hook() {
  local json
  json=$(HWSPEC_TEST_FAULT=cpu:enumerate:crash /usr/bin/hwspec probe --fresh --json --backend cpu \
    --level quick) || return 1
  python3 -c 'import json, sys; b = json.load(sys.stdin)["backends"][0]; sys.exit(b["status"] != "enumerated")' \
    <<<"$json" || { echo "$json"; return 1; }
}
step "the installed hwspec has no fault hook (HWSPEC_TEST_FAULT is ignored)" check_no_fault_hook

check_pages() {
  local ok=0 page ref text
  for page in hwspec hwspec-probe hwspec-check hwspec-apt-hook hwspec-completions; do
    man -w "$page" || { echo "no man page $page"; ok=1; continue; }
    text=$(MANWIDTH=200 man "$page" 2>/dev/null | col -b)
    for ref in $(sed -n '/^SEE ALSO/,/^[A-Z]/p' <<<"$text" | grep -o '[a-z][a-z0-9.-]*([0-9])'); do
      man -w "${ref%(*}.${ref//[^0-9]/}" >/dev/null || { echo "$page names $ref, which is not installed"; ok=1; }
    done
    grep -q '^FILES' <<<"$text" || [ "$page" = hwspec-completions ] || { echo "$page has no FILES"; ok=1; }
  done
  return $ok
}
step "man pages, and every page their SEE ALSO names" check_pages

check_completions() {
  local ok=0
  bash -c 'source /usr/share/bash-completion/completions/hwspec && complete -p hwspec' || ok=1
  grep -q '^#compdef hwspec' /usr/share/zsh/vendor-completions/_hwspec || { echo "zsh"; ok=1; }
  grep -q '^complete -c hwspec' /usr/share/fish/vendor_completions.d/hwspec.fish || { echo "fish"; ok=1; }
  return $ok
}
step "bash, zsh and fish completions" check_completions

# --- the library and the Python module

step "libhwspec through pkg-config, python3-hwspec (run-c-tests.sh --installed)" \
  hwspec-ffi/tests/run-c-tests.sh --installed
# Debian's python3, which the package is for (a pyenv or venv python3 on PATH is not).
import_from_elsewhere() { (cd / && /usr/bin/python3 -c 'import hwspec; print(hwspec.__file__, hwspec.version())'); }
step "/usr/bin/python3 -c 'import hwspec'" import_from_elsewhere

# --- apt

# demo_deb NAME VERSION [REQUIREMENT]: a package built with dpkg-deb.
demo_deb() {
  local root=$work/$1-$2
  mkdir -p "$root/DEBIAN"
  {
    printf 'Package: %s\nVersion: %s\nArchitecture: all\n' "$1" "$2"
    printf 'Maintainer: hwspec tests <tests@example.org>\nDescription: hwspec apt test\n'
    [ -z "${3:-}" ] || printf 'Requires-Hwspec: %s\n' "$3"
  } >"$root/DEBIAN/control"
  dpkg-deb --root-owner-group --build "$root" "$work/$1_$2_all.deb" >/dev/null
}
demo_deb hwspec-apt-cuda 1.0 'cuda (>= 12.0)'
demo_deb hwspec-apt-cuda 2.0 'cuda (>= 12.0)'
demo_deb hwspec-apt-plain 1.0

version_of() { dpkg-query -W -f '${db:Status-Abbrev}${Version}' "$1" 2>/dev/null; }

# apt_logged ARGS...: apt-get ARGS, its output shown and kept for `logged`.
apt_logged() {
  "${apt_get[@]}" "$@" >"$work/apt.log" 2>&1
  local status=$?
  cat "$work/apt.log"
  return $status
}
logged() { grep -q -- "$1" "$work/apt.log"; }

apt_warns_and_installs() {
  apt_logged install "$work/hwspec-apt-cuda_1.0_all.deb" &&
    logged 'hwspec: warning: hwspec-apt-cuda .* requires `cuda (>= 12.0)`' &&
    [ "$(version_of hwspec-apt-cuda)" = "ii 1.0" ]
}
step "apt: an unmet requirement is warned about and the package installed" apt_warns_and_installs

apt_warns_about_upgrades() {
  apt_logged -o Hwspec::Refuse=true install "$work/hwspec-apt-cuda_2.0_all.deb" &&
    logged 'already installed, so not refused' &&
    [ "$(version_of hwspec-apt-cuda)" = "ii 2.0" ]
}
step "apt: with Hwspec::Refuse, an upgrade is warned about, not refused" apt_warns_about_upgrades
"${apt_get[@]}" purge hwspec-apt-cuda >/dev/null 2>&1

apt_refuses_before_dpkg() {
  ! apt_logged -o Hwspec::Refuse=true install "$work/hwspec-apt-cuda_1.0_all.deb" &&
    logged 'refusing the installation of hwspec-apt-cuda' &&
    ! logged 'Unpacking' &&
    [ -z "$(version_of hwspec-apt-cuda | grep '^ii')" ]
}
step "apt: with Hwspec::Refuse, a new package is refused before dpkg runs" apt_refuses_before_dpkg

apt_survives_a_removed_hwspec() {
  dpkg --remove hwspec || return 1
  [ -e /etc/apt/apt.conf.d/50hwspec ] || { echo "the conffile went with remove"; return 1; }
  "${apt_get[@]}" install "$work/hwspec-apt-plain_1.0_all.deb"
  local status=$?
  "${apt_get[@]}" purge hwspec-apt-plain >/dev/null 2>&1
  "${apt_get[@]}" install "$debs"/hwspec_*.deb >/dev/null 2>&1 || { echo "reinstalling hwspec failed"; return 1; }
  return $status
}
step "apt: hwspec removed but not purged (its configuration left) does not break apt" \
  apt_survives_a_removed_hwspec

apt_survives_a_crashing_hwspec() {
  local status
  cp /usr/bin/hwspec "$work/hwspec.saved"
  printf '#!/bin/sh\nkill -SEGV $$\n' >/usr/bin/hwspec
  "${apt_get[@]}" install "$work/hwspec-apt-plain_1.0_all.deb"
  status=$?
  cp "$work/hwspec.saved" /usr/bin/hwspec
  "${apt_get[@]}" purge hwspec-apt-plain >/dev/null 2>&1
  return $status
}
step "apt: a crashing hwspec does not break apt" apt_survives_a_crashing_hwspec

# --- autopkgtest

build_demo() {
  cp -r tests/fixtures/debian-demo "$work/hwspec-demo-1.0" &&
    (cd "$work/hwspec-demo-1.0" && dpkg-buildpackage --no-sign >"$work/demo-build.log" 2>&1) ||
    { cat "$work/demo-build.log"; return 1; }
}

run_autopkgtest() {
  build_demo || return 1
  (cd "$work" && autopkgtest --output-dir "$work/autopkgtest-out" \
    hwspec-demo_1.0.dsc hwspec-demo-*_1.0_all.deb -- null) >"$work/autopkgtest.log" 2>&1
  local status=$?
  sed -n '/@@@@@@@ summary/,$p' "$work/autopkgtest.log"
  # 2: at least one test was skipped, none failed.
  [ "$status" -eq 2 ] || { tail -30 "$work/autopkgtest.log"; echo "autopkgtest exit status $status"; return 1; }
  grep -Eq '^needs-cuda +SKIP' "$work/autopkgtest.log" &&
    grep -Eq '^needs-opencl +PASS' "$work/autopkgtest.log" &&
    [ "$(version_of hwspec)" = "ii $(dpkg-deb -f "$debs"/hwspec_*.deb Version)" ]
}
if command -v autopkgtest >/dev/null; then
  step "autopkgtest (null): Depends: @, hwspec; cuda SKIP, opencl PASS" run_autopkgtest
else
  echo "SKIP autopkgtest: not installed (scripts/test.sh installs it)"
fi

# --- systemd

units=(/lib/systemd/system/hwspec-features.service /lib/systemd/system/hwspec-features.timer)
step "systemd-analyze verify hwspec-features.service and .timer" systemd-analyze verify "${units[@]}"

run_the_service() {
  local exec_start
  exec_start=$(sed -n 's/^ExecStart=//p' "${units[0]}")
  [ -n "$exec_start" ] || { echo "no ExecStart"; return 1; }
  # The unit runs only where NFD's worker made this directory (ConditionPathIsDirectory).
  grep -qx "ConditionPathIsDirectory=$features_dir" "${units[0]}" || return 1
  mkdir -p "$features_dir"
  echo "$exec_start"
  # Word splitting is the unit's: ExecStart has no quoting.
  $exec_start || return 1
  ls -l "$features_dir/hwspec" && cat "$features_dir/hwspec"
  grep -q '^[^#].*cpu=true' "$features_dir/hwspec"
}
# systemd is not PID 1 here (and one that is would not see the namespace's packages), so the
# unit's command runs as systemd would start it, without its sandboxing.
echo "note: PID 1 is $(ps -o comm= -p 1); running hwspec-features.service's ExecStart directly"
step "hwspec-features.service's ExecStart writes the features file" run_the_service

# --- 4: purge, and nothing left behind

step "apt-get purge of everything installed" purge_all
cat "$work/purge.log" 2>/dev/null | tail -3
# NFD's directory is not the package's: this run made it, so this run removes it.
[ "$(find /etc/kubernetes -type f 2>/dev/null | wc -l)" -eq 0 ] && rm -rf /etc/kubernetes

# apt's and dpkg's own records of the run: logs, caches, lists, trigger state.
bookkeeping='^/var/(log|cache/(apt|debconf|man|ldconfig)|lib/(apt|dpkg/(triggers|updates)))(/|$)|^/etc/ld\.so\.cache$'

check_nothing_left() {
  local ok=0
  dpkg_state >"$work/dpkg-after"
  if ! diff -u "$work/dpkg-before" "$work/dpkg-after"; then
    echo "dpkg's database differs (above)"
    ok=1
  fi
  snapshot | sort >"$work/files-after"
  if ! diff -u "$work/files-before" "$work/files-after"; then
    echo "files differ (above)"
    ok=1
  fi
  # In the namespace, the overlays' upper layers hold everything the run wrote: a path there
  # that did not exist before (whiteouts, which record removals, aside) was left behind.
  if [ "$inside" -eq 1 ]; then
    local left
    left=$(for d in usr etc var; do
      (cd "$HWSPEC_PACKAGES_UPPER/$d/upper" && find . -mindepth 1 ! -type c) | sed "s|^\./|/$d/|"
    done | sort | comm -23 - "$work/files-all-before" | grep -Ev "$bookkeeping")
    if [ -n "$left" ]; then
      echo "left behind:"
      echo "$left"
      ok=1
    fi
  fi
  return $ok
}
step "nothing is left behind: dpkg's database and the files are as before" check_nothing_left
finish
