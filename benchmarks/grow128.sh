#!/usr/bin/env bash
# Sharper faces at equal CPU time (benchmarks/quality.md, "128 px faces on a CPU budget").
# MINUTES of training each, one after the other, on the demo's training faces:
#   grown     lite2x grown from the 64 px demo weights (growing.grow: 128 px decoders)
#   scratch   lite128 from random weights (a 128 px encoder and decoders)
#   continued the 64 px demo weights, trained on at 64 px
#   edges     as grown, with the edge loss (--edges 2: L1 on pixel differences) added
# then the held-out identity check of each (recognised as the target, detail ratio).
# Usage: bash benchmarks/grow128.sh [MINUTES] [WORKDIR] [LITE_WEIGHTS]   (from the project root;
# LITE_WEIGHTS: a lite model of obama / trump, by default weights/ of commit 3533f99, the 64 px bundle)
set -euo pipefail
minutes=${1:-12}
work=${2:-runs/grow128}
lite=${3:-$work/lite64}
if [ ! -f "$lite/config.json" ]; then
  mkdir -p "$lite" && git archive 3533f99 weights/config.json weights/encoder.weights.h5 \
    weights/decoder_a.weights.h5 weights/decoder_b.weights.h5 | tar -x -C "$lite" --strip-components=1
fi
bash weights/demo_faces.sh runs/demo
run() {  # run NAME ARGS...: one arm, resumable (rerun the script to go on after a stop)
  local name=$1; shift
  [ -f "$work/$name.done" ] && return
  swapface train runs/demo/faces/obama runs/demo/faces/trump -m "$work/$name" --batch-size 16 --save-every 500 \
    --iterations 1000000 --names obama trump --coverage 0.8 --minutes "$minutes" "$@"
  touch "$work/$name.done"
}
run grown --preset lite2x --pretrained "$lite"
run scratch --preset lite128
run continued --preset lite --pretrained "$lite"
run edges --preset lite2x --pretrained "$lite" --edges 2
for name in grown scratch continued edges; do
  echo "## $name"
  python benchmarks/identity_check.py "$work/$name"
done | tee "$work/results.md"
