#!/usr/bin/env bash
# Fills .device-debs (or DIR) with the .deb files of the loaders scripts/device-check.sh
# unpacks on a GPU machine that has no package registry: the Vulkan, OpenCL ICD and libglvnd
# (EGL, OpenGL) loaders of Debian bookworm amd64. Run on a machine with apt; nothing is
# installed. The directory then travels with the checkout (the device tool's `carry`).
#
#   scripts/device-debs.sh [DIR]
set -euo pipefail
cd "$(dirname "$0")/.."
dir=${1:-.device-debs}
mkdir -p "$dir"
cd "$dir"
apt-get -o APT::Architecture=amd64 -o APT::Sandbox::User=root -qq download \
  libvulkan1 ocl-icd-libopencl1 libglvnd0 libegl1 libgles2 libopengl0 libgl1 libglx0
ls -1 "$PWD"/*.deb
