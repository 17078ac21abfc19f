#!/usr/bin/env bash
# Reproduce the demo weights in weights/ from ../shared/data (see weights/README.md).
# Usage: bash weights/train_demo.sh [ITERATIONS] [WORKDIR] [PRETRAINED] [PRESET] [MINUTES] [ADVERSARIAL]   (from the project root)
# Rerun the same command to resume after any stop: training checkpoints into WORKDIR/model.
# PRESET lite2x with PRETRAINED a lite model grows it to 128 px faces (growing.grow); MINUTES
# ends each sitting after that much training (rerun to go on); ADVERSARIAL, the weight of the
# patch discriminator's term (swapface.adversarial), 0 or unset: none.
set -euo pipefail
iterations=${1:-30000}
work=${2:-runs/demo}
pretrained=${3:-}
preset=${4:-lite}
minutes=${5:-}
adversarial=${6:-0}
bash weights/demo_faces.sh "$work"  # the training faces, in $work/faces/{obama,trump}
# The recipe is the default one (benchmarks/quality.md): L1 + DSSIM on the face with eyes and
# mouth weighted 3x, float32 on a CPU (bf16 measured slower here); coverage 0.8 said explicitly, since
# weights started from (PRETRAINED) may have been trained at another one.
swapface train "$work/faces/obama" "$work/faces/trump" -m "$work/model" --preset "$preset" --batch-size 16 \
  --save-every 500 --iterations "$iterations" --names obama trump --coverage 0.8 \
  --adversarial "$adversarial" ${pretrained:+--pretrained "$pretrained"} ${minutes:+--minutes "$minutes"}
python weights/save_demo.py "$work/model" --float16  # half the bytes; loads as float32
