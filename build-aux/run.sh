#!/bin/sh
# Quick start: installs the build dependencies (apt, with sudo when not
# root), builds Clipscope and runs it on the sample images with the bundled
# model. With a display it opens the desktop application; without one it
# runs `clipscope classify` and prints the result as a table.
#
# The build goes to _build, or to $CLIPSCOPE_BUILD_DIR; an existing build is
# reused. The bundled model is read from data/models/, or from
# $CLIPSCOPE_DATA_DIR/models/ when that is set.
set -eu
cd "$(dirname "$0")/.."
src=$PWD
build=${CLIPSCOPE_BUILD_DIR:-_build}
case $build in /*) build_path=$build ;; *) build_path=$src/$build ;; esac
data=${CLIPSCOPE_DATA_DIR:-$src/data}
model=$data/models/emoji-demo
python=/usr/bin/python3
[ -x "$python" ] || python=python3

build-aux/install-deps.sh

[ -f "$build/build.ninja" ] || meson setup "$build"
ninja -C "$build"

if [ ! -f "$model/config.json" ]; then
  echo "run.sh: the bundled model is missing: $model/config.json does not exist" >&2
  exit 1
fi

# What the sample images show, and a few things they do not.
set -- dog cat car bicycle house guitar pizza apple banana tree \
  airplane horse fish bird cake book clock umbrella sun telephone
labels=""
for label in "$@"; do labels="$labels --label $label"; done
set -- "$src"/data/samples/*.png

# The uninstalled build finds its GSettings schema and the bundled model
# here, as an installed one finds them under its prefix.
export GSETTINGS_SCHEMA_DIR="$build_path/data"
export CLIPSCOPE_DATA_DIR="$data"

if [ -n "${WAYLAND_DISPLAY:-}" ] || [ -n "${DISPLAY:-}" ]; then
  echo "Starting the desktop application on the sample images."
  # shellcheck disable=SC2086
  exec "$build/app/clipscope-gui" --model "$model" $labels "$@"
fi

# shellcheck disable=SC2086
json=$("$build/app/clipscope" classify --model "$model" $labels "$@")
echo
echo "There is no display, so here is what the command-line tool makes of the"
echo "sample images in data/samples/, with the small model bundled in"
echo "${model#"$src"/}/ and 20 labels (zero-shot probabilities over them):"
echo
printf '%s\n' "$json" | "$python" build-aux/classify-table.py
echo
echo "Try your own images and labels:"
echo "  $build/app/clipscope classify --model ${model#"$src"/} --label cat --label dog PHOTO.jpg"
