#!/usr/bin/env bash
# Reproduce the demo weights in weights/ from ../shared/data (see weights/README.md).
# Usage: bash weights/train_demo.sh [ITERATIONS] [WORKDIR]    (from the project root)
set -euo pipefail
iterations=${1:-8000}
work=${2:-runs/demo}
shared=../shared/data
mkdir -p "$work/src/obama" "$work/src/trump"

# Obama: every clip but the four held out for validation and bundled in data/.
for f in "$shared"/whitehouse/obama/*.jpg; do
  case $(basename "$f") in c000_*|c001_*|c103_*|c110_*) ;; *) ln -sf "$(realpath "$f")" "$work/src/obama/" ;; esac
done
# Trump: the one clip is spliced from several addresses; frames 33-48 and 65-92 (two whole
# addresses) are held out. The classic aligned Trump photos add variety (training only).
for f in "$shared"/whitehouse/trump/c006_f*.jpg; do
  n=$((10#$(basename "$f" .jpg | sed 's/.*_f//')))
  if [ "$n" -le 32 ] || { [ "$n" -ge 49 ] && [ "$n" -le 64 ]; }; then ln -sf "$(realpath "$f")" "$work/src/trump/"; fi
done

swapface extract "$work/src/obama" -o "$work/faces/obama"
swapface extract "$work/src/trump" "$shared/classic/trump" -o "$work/faces/trump"
swapface train "$work/faces/obama" "$work/faces/trump" -m "$work/model" --preset lite --batch-size 16 \
  --save-every 500 --iterations "$iterations" --names obama trump
python -c "import sys; from swapface import model; model.save(model.load(sys.argv[1]), 'weights')" "$work/model"
