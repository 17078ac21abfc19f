#!/usr/bin/env bash
# Train the pretrained base (weights/base/): a `lite` model of 13 people, the start for a new pair.
# Usage: bash weights/train_base.sh [MINUTES] [WORKDIR] [PRETRAINED]   (from the project root)
# Rerun the same command to resume: each run trains MINUTES more (--minutes), checkpointing
# into WORKDIR/model. PRETRAINED: the 64 px Obama/Trump bundle it starts from (weights/README.md:
# `git archive 3533f99 weights | tar -x -C runs/weights-v3`), so the base begins as a model
# that already draws faces and spends its minutes on eleven more people.
# The people clips are for experiments only (../shared/data/people/README.md): they train the
# weights here and are never committed, nor are frames, crops or previews of them.
set -euo pipefail
minutes=${1:-35}
work=${2:-runs/base}
pretrained=${3:-runs/weights-v3/weights}
bash weights/base_faces.sh "$work"  # $work/faces/{group_a,group_b}
# The demo's recipe (benchmarks/quality.md): L1 + DSSIM on the face, eyes and mouth 3x, coverage 0.8.
swapface train "$work/faces/group_a" "$work/faces/group_b" -m "$work/model" --preset lite --batch-size 16 \
  --save-every 500 --names group_a group_b --coverage 0.8 --pretrained "$pretrained" --minutes "$minutes"
python weights/save_demo.py "$work/model" --out weights/base --trained-by weights/train_base.sh --float16
