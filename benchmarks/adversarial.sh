#!/usr/bin/env bash
# Does an adversarial term sharpen the 128 px demo model? (benchmarks/quality.md, "A loss that
# pays for detail"). MINUTES of training each, one after the other, both started from the
# bundled weights (WEIGHTS, a lite2x model of obama / trump) on the demo's training faces:
#   plain   the default recipe (L1 + DSSIM on the face, eyes and mouth weighted)
#   gan     the same plus a patch discriminator's verdict (--adversarial W, swapface.adversarial)
# then the held-out identity check of each (recognised as the target, detail ratio).
# Usage: bash benchmarks/adversarial.sh [MINUTES] [WORKDIR] [WEIGHTS] [W]   (from the project root;
# rerun the same command to go on after a stop: each arm resumes, a finished one is skipped)
set -euo pipefail
minutes=${1:-25}
work=${2:-runs/gan}
weights=${3:-weights}
weight=${4:-0.1}
bash weights/demo_faces.sh runs/demo
run() {  # run NAME ARGS...: one arm
  local name=$1; shift
  [ -f "$work/$name.done" ] && return
  swapface train runs/demo/faces/obama runs/demo/faces/trump -m "$work/$name" --preset lite2x --pretrained "$weights" \
    --batch-size 16 --save-every 500 --iterations 1000000 --names obama trump --coverage 0.8 --minutes "$minutes" "$@"
  touch "$work/$name.done"
}
run plain
run gan --adversarial "$weight"
for name in plain gan; do
  echo "## $name"
  python benchmarks/identity_check.py "$work/$name"
done | tee "$work/results.md"
