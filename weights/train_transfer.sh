#!/usr/bin/env bash
# Train the transfer-learning start of notebook 2 (weights/trump_cage/): a `lite` model of a
# *different* pair than the demo's, the classic 2017 deepfakes pair Trump / Nicolas Cage.
# Usage: bash weights/train_transfer.sh [ITERATIONS] [WORKDIR]   (from the project root)
# Rerun the same command to resume after any stop: training checkpoints into WORKDIR/model.
# The photos are copyrighted (../shared/data/README.md): they train the weights here and are
# never committed, nor are crops or previews of them; only the learned weights are.
set -euo pipefail
iterations=${1:-5000}
work=${2:-runs/trump_cage}
shared=../shared/data

# The classic set is already aligned at 256 px; extraction detects and aligns it again, so the
# crops and alignments.json (landmarks for the masked loss) are this project's own.
[ -f "$work/faces/trump/alignments.json" ] || swapface extract "$shared/classic/trump" -o "$work/faces/trump"
[ -f "$work/faces/cage/alignments.json" ] || swapface extract "$shared/classic/cage" -o "$work/faces/cage"
# The same recipe as the demo weights (benchmarks/quality.md), from random weights.
swapface train "$work/faces/trump" "$work/faces/cage" -m "$work/model" --preset lite --batch-size 16 \
  --save-every 500 --iterations "$iterations" --names trump cage --coverage 0.8
python weights/save_demo.py "$work/model" --out weights/trump_cage --earlier-steps 0 \
  --trained-by weights/train_transfer.sh --float16
