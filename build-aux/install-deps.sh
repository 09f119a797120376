#!/bin/sh
# Installs the Debian 12 packages Clipscope needs to build and test.
set -eu

packages="
  meson ninja-build gcc pkg-config
  libglib2.0-dev libglib2.0-bin libjson-glib-dev
  libgdk-pixbuf-2.0-dev libgdk-pixbuf2.0-bin webp-pixbuf-loader libopenblas-dev libdnnl-dev
  python3-numpy python3-torch python3-pil python3-regex
  clang libclang-rt-14-dev
  libgtk-4-dev libadwaita-1-dev xvfb xauth desktop-file-utils appstream
  libvulkan-dev glslc mesa-vulkan-drivers vulkan-validationlayers
  libsoup-3.0-dev libsqlite3-dev
  sentencepiece python3-sentencepiece
  python3-pyatspi at-spi2-core dbus dbus-bin gettext fonts-wqy-microhei
"

missing=""
for p in $packages; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing="$missing $p"
done
[ -z "$missing" ] && exit 0

if [ "$(id -u)" -eq 0 ]; then sudo=""; else sudo="sudo"; fi
echo "Installing:$missing"
$sudo apt-get update -q
# shellcheck disable=SC2086
DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -q --no-install-recommends $missing
