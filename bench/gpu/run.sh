#!/usr/bin/env bash
# bench/gpu in one call: PyTorch eager first (writes its JSON), then our graphs on every GPU
# provider that loads, printing both side by side, then the whole 5-second extension through the
# engine. No network. It prints the disk it needs first and refuses if the temp folder is short.
# On a machine without a GPU it runs a CPU smoke version (1 layer, 64 tokens) so it cannot rot,
# and its WebGPU phase on lavapipe (software Vulkan) when .ci/lavapipe.sh has fetched it.
#
#   bash bench/gpu/run.sh            (from the repository root)
#
# Node: `node` on PATH, else a carried one in .carry/node/bin (git-ignored; see README "GPU bench").
# Vulkan (WebGPU on Linux): if .gl/ holds the loader .debs (device README), they are unpacked first.
set -euo pipefail
# ort.ts skips phases that would start after BENCH_GPU_BUDGET_S (450) from here: the call fits 8 minutes.
export BENCH_GPU_T0="${BENCH_GPU_T0:-$(date +%s)}"
cd "$(dirname "$0")/../.."
if [ -d .carry/node/bin ]; then export PATH="$PWD/.carry/node/bin:$PATH"; fi
command -v node >/dev/null || { echo "bench/gpu: no node on PATH and no .carry/node/bin" >&2; exit 1; }
if ls .gl/*.deb >/dev/null 2>&1; then
  for f in .gl/*.deb; do dpkg -x "$f" /; done
  ldconfig || true
  [ -f /usr/local/nvidia/share/vulkan/icd.d/nvidia_icd.json ] && export VK_DRIVER_FILES=/usr/local/nvidia/share/vulkan/icd.d/nvidia_icd.json
fi
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
smoke=0
if ! command -v nvidia-smi >/dev/null 2>&1 || [ "${BENCH_GPU_SMOKE:-0}" = 1 ]; then smoke=1; fi
# The same cases ort.ts runs (2B: 28 layers 32×64; 13B: 48 layers 32×128; 6,144 tokens; batch 1, 2).
if [ "$smoke" = 1 ]; then L2=1; L13=1; T=64; else L2=28; L13=48; T=6144; fi
cat > "$work/cases.json" <<JSON
[{"model":"2b","layers":$L2,"heads":32,"head_dim":64,"caption":4096,"tokens":$T,"batch":1,"text":128},
 {"model":"2b","layers":$L2,"heads":32,"head_dim":64,"caption":4096,"tokens":$T,"batch":2,"text":128},
 {"model":"13b","layers":$L13,"heads":32,"head_dim":128,"caption":4096,"tokens":$T,"batch":1,"text":128},
 {"model":"13b","layers":$L13,"heads":32,"head_dim":128,"caption":4096,"tokens":$T,"batch":2,"text":128}]
JSON
PYTHONUNBUFFERED=1 ${PYTHON:-python3} bench/gpu/torch_ltx.py "$work/torch.json" "$work/cases.json" || echo "PyTorch side failed; continuing with ours"
BENCH_GPU_TORCH="$work/torch.json" BENCH_GPU_SMOKE="$smoke" node --import tsx bench/gpu/ort.ts
# WebGPU phase: device-resident vs copying steps (bench/webgpu-steps.ts, builtin:tiny shapes) on
# this machine's WebGPU adapter; without a GPU, on lavapipe when .ci/lavapipe.sh has put it in
# RESHOOT_LAVAPIPE_DIR (CPU Vulkan: the figures check the path, they are not GPU figures).
echo
BENCH_STEPS="${BENCH_STEPS:-4}" BENCH_REPS="${BENCH_REPS:-1}" node --import tsx bench/webgpu-steps.ts ||
  echo "WebGPU phase failed (no WebGPU adapter here? bash .ci/lavapipe.sh provides a software one)"
