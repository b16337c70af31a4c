#!/usr/bin/env bash
# A software WebGPU for tests and benches on machines without a GPU: Mesa's lavapipe (a Vulkan
# driver that runs on the CPU) from Debian bookworm-backports, unpacked into a cache folder. The
# system's Mesa is not touched: onnxruntime-node's WebGPU provider (Dawn) is pointed at this
# driver only through VK_ICD_FILENAMES (test/helpers/webgpu.ts, bench/gpu/run.sh).
#
# Why backports: bookworm's own lavapipe (Mesa 22.3) lacks what Dawn needs ("No supported
# adapters"); Mesa 25.0 from bookworm-backports works. Its libraries load against bookworm's
# libvulkan1, libllvm15 and xcb/wayland client libraries, which the caller installs (.ci/run).
#
# Usage: .ci/lavapipe.sh [DIR]   (default: $RESHOOT_LAVAPIPE_DIR, else ~/.cache/reshoot-lavapipe)
# Writes DIR/lvp_icd.json (absolute library path) and prints its path. Needs root only for
# `apt-get update` on its private package lists; does nothing when DIR is already complete.
set -euo pipefail

DIR="${1:-${RESHOOT_LAVAPIPE_DIR:-$HOME/.cache/reshoot-lavapipe}}"
PACKAGE=mesa-vulkan-drivers
ICD="$DIR/lvp_icd.json"
LIB="$DIR/root/usr/lib/x86_64-linux-gnu/libvulkan_lvp.so"

if [ -f "$ICD" ] && [ -f "$LIB" ]; then
  echo "$ICD"
  exit 0
fi
if [ "$(dpkg --print-architecture)" != amd64 ]; then
  echo "lavapipe.sh: only amd64 is set up (this is $(dpkg --print-architecture))" >&2
  exit 1
fi

mkdir -p "$DIR"
WORK="$(mktemp -d)"
chmod 755 "$WORK" # apt downloads as _apt where it can
trap 'rm -rf "$WORK"' EXIT
# A private apt state: only bookworm-backports' main, so the candidate is the backports build,
# and the system's sources and package lists stay as they are.
echo "deb http://deb.debian.org/debian bookworm-backports main" > "$WORK/sources.list"
mkdir -p "$WORK/lists/partial" "$WORK/archives/partial"
APT=(-o "Dir::Etc::sourcelist=$WORK/sources.list" -o "Dir::Etc::sourceparts=-" -o "Dir::State::Lists=$WORK/lists"
     -o "Dir::Cache::archives=$WORK/archives" -o "APT::Get::List-Cleanup=0")
apt-get "${APT[@]}" update >&2
(cd "$WORK" && apt-get "${APT[@]}" download "$PACKAGE" >&2)
DEB="$(ls "$WORK"/${PACKAGE}_*.deb)"
rm -rf "$DIR/root"
dpkg -x "$DEB" "$DIR/root"
[ -f "$LIB" ] || { echo "lavapipe.sh: $DEB has no libvulkan_lvp.so" >&2; exit 1; }
VERSION="$(dpkg-deb -f "$DEB" Version)"
cat > "$ICD" <<JSON
{
  "file_format_version": "1.0.0",
  "ICD": { "library_path": "$LIB", "api_version": "1.3.0" },
  "reshoot": { "package": "$PACKAGE", "version": "$VERSION" }
}
JSON
echo "lavapipe.sh: $PACKAGE $VERSION in $DIR" >&2
echo "$ICD"
