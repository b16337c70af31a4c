#!/usr/bin/env bash
# The shipped builtin:shapes recipe (4 heads × 64, 6 layers, the session-8 "B" mix of windows) on one
# CUDA GPU, as one command for a short GPU lease (models/shapes/README.md, "The next run, on a GPU"):
#
#   bash tools/train-shapes/gpu.sh OUT [MINUTES] [more train.py options, which win over these]
#
# e.g. `... gpu.sh /tmp/w 9 --init models/shapes/transformer.safetensors` to continue from the shipped
# weights. It first times making batches and the training step here (`train.py --bench`: session 9
# could not tell whether the workers or the GPU set the pace), then trains with every core but two
# making batches and exports the EMA weights into OUT every minute, so a call cut short still leaves
# weights. BATCH (48) sets the batch; DEVICE=cpu runs the same on the CPU (a smoke test).
set -euo pipefail
out=${1:?usage: gpu.sh OUT [MINUTES] [train.py options...]}
minutes=${2:-9}
shift $(( $# >= 2 ? 2 : 1 ))
py=${PYTHON:-python3}
here=$(cd "$(dirname "$0")" && pwd)
cores=$(nproc)
workers=$(( cores > 3 ? cores - 2 : 1 ))
export PYTHONUNBUFFERED=1
# glibc's malloc settings of train.py's docstring: a batch maker's temporaries stay mapped (about 20 %
# more windows a second a worker).
export MALLOC_MMAP_THRESHOLD_=${MALLOC_MMAP_THRESHOLD_:-33554432} MALLOC_TRIM_THRESHOLD_=${MALLOC_TRIM_THRESHOLD_:-100000000000}
export MALLOC_TOP_PAD_=${MALLOC_TOP_PAD_:-268435456}
recipe=(--device "${DEVICE:-cuda}" --workers "$workers" --batch "${BATCH:-48}" --heads 4 --layers 6
  --tasks fill-track=.15,fill-box=.03,extend=.45,bridge=.04,bridge-append=.25,head=.04,image=.02,generate=.02)
# Which sets the pace here, the data or the GPU (half a minute; prints one line).
"$py" "$here/train.py" "${recipe[@]}" --bench --out "$out" "$@" | grep '^bench:'
exec "$py" "$here/train.py" "${recipe[@]}" --lr 1e-3 --warmup 300 --minutes "$minutes" --save-every 60 --out "$out" "$@"
