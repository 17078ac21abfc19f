#!/usr/bin/env bash
# The demo's training faces, from ../shared/data, into WORKDIR/faces/{obama,trump} (skipped if there).
# Usage: bash weights/demo_faces.sh WORKDIR   (from the project root; see weights/README.md)
set -euo pipefail
work=$1
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

[ -f "$work/faces/obama/alignments.json" ] || swapface extract "$work/src/obama" -o "$work/faces/obama"
[ -f "$work/faces/trump/alignments.json" ] || swapface extract "$work/src/trump" "$shared/classic/trump" -o "$work/faces/trump"
