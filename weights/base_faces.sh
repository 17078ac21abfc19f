#!/usr/bin/env bash
# The pretrained base's training faces, from ../shared/data, into WORKDIR/faces/{group_a,group_b}
# (each skipped if there). Usage: bash weights/base_faces.sh WORKDIR   (from the project root)
#
# Two groups of people, one per decoder, each mixing women and men so that either decoder
# starts a new pair drawing faces in general (weights/README.md, "The pretrained base").
# Held out of the base, for measuring new pairs (benchmarks/new_pair.sh): lp_d10, lp_d18,
# katiehill and lp_d13, two well-separated pairs (../shared/data/people/README.md).
set -euo pipefail
work=$1
people=../shared/data/people
bash weights/demo_faces.sh "$work"  # Obama and Trump's training frames, in $work/src
clips() { for p in "$@"; do ls "$people/$p"/*.mp4; done; }
# Every 2nd frame: neighbouring frames are near-duplicates, and this is what a learner extracts.
[ -f "$work/faces/group_a/alignments.json" ] || swapface extract "$work/src/obama" \
  $(clips aoc lp_d3 lp_d12 lp_d19 vr_2 vr_4) --every 2 -o "$work/faces/group_a"
[ -f "$work/faces/group_b/alignments.json" ] || swapface extract "$work/src/trump" \
  $(clips lp_d0 lp_d14 lp_d20 vr_1 vr_5) --every 2 -o "$work/faces/group_b"
