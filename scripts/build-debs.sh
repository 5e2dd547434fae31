#!/usr/bin/env bash
# Builds hwspec's Debian packages (hwspec, libhwspec0, libhwspec-dev, python3-hwspec) and the
# native source package from this checkout:
#
#   scripts/build-debs.sh [OUTDIR]        (default: target/debian)
#
# then install them with `apt-get install ./target/debian/*.deb`.
#
# The checkout's files (tracked, and untracked ones git does not ignore) are copied to
# OUTDIR/hwspec-VERSION and built there with dpkg-buildpackage, so the checkout stays clean
# and the .deb, .dsc, .changes and .buildinfo files land in OUTDIR. Cargo builds into the
# checkout's target/ (or $CARGO_TARGET_DIR), so an earlier `cargo build --release` is reused.
# Needs dpkg-dev, debhelper and dh-python. Bookworm's rustc (1.63) is older than hwspec needs
# (Cargo.toml's rust-version), so unless Debian's rustc is new enough the build uses the
# pkg.hwspec.rustup build profile: the cargo on PATH (rustup's) instead of Debian's.
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$(pwd)

out=${1:-target/debian}
[ $# -le 1 ] || { echo "usage: $0 [OUTDIR]" >&2; exit 2; }
mkdir -p "$out"
out=$(cd "$out" && pwd)

version=$(dpkg-parsechangelog -S Version)
stage=$out/hwspec-$version
rm -rf "$stage"
rm -f "$out"/hwspec_* "$out"/hwspec-*.deb "$out"/libhwspec* "$out"/python3-hwspec_*
mkdir -p "$stage"

# What git would commit, as it is in the working tree (files deleted there are skipped).
if git rev-parse --is-inside-work-tree >/dev/null 2>&1; then
  git ls-files -z --cached --others --exclude-standard |
    while IFS= read -r -d '' f; do [ -e "$f" ] || [ -L "$f" ] && printf '%s\0' "$f"; done |
    tar --null -T - -cf - | tar -C "$stage" -xf -
else
  tar --exclude=./target --exclude=./.git -cf - . | tar -C "$stage" -xf -
fi

profiles=()
rustc_version=$(dpkg-query -W -f='${Version}' rustc 2>/dev/null || true)
if [ -z "$rustc_version" ] || ! dpkg --compare-versions "$rustc_version" ge 1.85; then
  profiles=(--build-profiles=pkg.hwspec.rustup)
  command -v cargo >/dev/null || {
    echo "$0: no cargo on PATH, and Debian's rustc is missing or older than 1.85 (install rustup's toolchain)" >&2
    exit 1
  }
fi

echo "build-debs.sh: building hwspec $version in $stage ${profiles[*]}" >&2
(cd "$stage" && CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$repo/target} \
  dpkg-buildpackage --no-sign "${profiles[@]}")
rm -rf "$stage"
echo "build-debs.sh: built in $out:" >&2
(cd "$out" && ls -1 ./*.deb ./*.dsc ./*.changes) >&2
