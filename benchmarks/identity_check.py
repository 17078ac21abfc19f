"""Acceptance check of demo weights: does a face swapped to B look like B to a face recogniser?

Each held-out frame of A is swapped to B with the model; it counts as *recognised* when
dlib's 128-d descriptor of the swapped face lies within B's recognition radius of B's
reference centroid and nearer B than A (`swapface.metrics.identity_scores`). Likewise B -> A.

Defaults: the clips kept out of training in ../shared/data/whitehouse/ (beside the
project): Obama clips c000, c001, c103 and c110, and the Trump frames of the two addresses
kept out of training (c006_f00033 to c006_f00048 and c006_f00065 to c006_f00092: the one
Trump clip is spliced from several addresses; the demo weights trained on the others).
References: 40 frames of each person's *training* footage, spread over its clips and
addresses (`references`), never the evaluated frames (a face is at distance ~0 from its own
descriptor) nor their neighbours (which would make the radius far too tight).
`--save-references data/references.npz` writes their descriptors for notebook 4 and
`swapface evaluate --references`.

    python benchmarks/identity_check.py [MODEL_DIR] [--a FRAME...] [--b FRAME...] [--ref-a IMG...] [--ref-b IMG...]
                                        [--save-references FILE]

Prints a markdown table.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from swapface import evaluate, media, metrics, saving

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared" / "data" / "whitehouse"
HELD_OUT_CLIPS = {"obama": ("c000", "c001", "c103", "c110"), "trump": ("c006",)}
# The one Trump clip is spliced from several addresses; frames 33-48 and 65-92 are the two
# addresses (dark room; flag and lamp) the demo weights never saw.
TRUMP_FRAMES = set(range(33, 49)) | set(range(65, 93))


def held_out(person: str) -> list[Path]:
    """The default held-out frames of "obama" or "trump", sorted."""
    files = sorted(p for clip in HELD_OUT_CLIPS[person] for p in (SHARED / person).glob(f"{clip}_f*.jpg"))
    if person == "trump":
        files = [p for p in files if int(p.stem.split("_f")[1]) in TRUMP_FRAMES]
    if not files:
        raise media.MediaError(SHARED / person, "no held-out frames found (is ../shared/data beside the project?)")
    return files


def references(person: str, count: int = 40) -> list[Path]:
    """Reference frames of "obama" or "trump" from the *training* footage, spread over it.

    Other clips (Obama) or other addresses (Trump) than the held-out ones: the recognition
    radius and centroid then describe the person across days and lights, not the
    neighbouring frames of the evaluated clip (which would make the radius ~0.3 and fail
    even genuine photos from another day).
    """
    held = set(held_out(person))
    files = [p for p in sorted((SHARED / person).glob("*.jpg")) if p not in held]
    if person == "obama":  # one frame per clip first: 46 clips, 46 different days
        firsts = {}
        for path in files:
            firsts.setdefault(path.stem.split("_f")[0], path)
        files = list(firsts.values())
    step = max(1, len(files) // count)
    return files[::step][:count]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("model_dir", nargs="?", type=Path, default=ROOT / "weights")
    parser.add_argument("--a", nargs="+", help="held-out frames of A (default: by the model's names)")
    parser.add_argument("--b", nargs="+", help="held-out frames of B")
    parser.add_argument("--ref-a", nargs="+", help="reference photos of A (default: odd held-out frames)")
    parser.add_argument("--ref-b", nargs="+", help="reference photos of B")
    parser.add_argument("--save-references", type=Path, metavar="FILE",
                        help="also write both people's reference descriptors here (.npz; data/references.npz)")
    args = parser.parse_args()
    net = saving.load(args.model_dir)
    # The model names its sides; the defaults follow them, so a model trained Trump-first works too.
    a, b = (n if n in HELD_OUT_CLIPS else d for n, d in zip(net.names, ("obama", "trump")))
    frames = {"a": args.a or held_out(a), "b": args.b or held_out(b)}
    refs = {"a": args.ref_a, "b": args.ref_b}
    given = dict(refs)
    for side, person in zip("ab", (a, b)):
        if refs[side] is None:
            refs[side] = references(person)
    descs = {side: metrics.reference_set(refs[side]) for side in "ab"}
    if args.save_references:
        metrics.save_references(args.save_references, {net.names[0]: descs["a"], net.names[1]: descs["b"]})
    result = evaluate.identity_check(net, frames["a"], frames["b"], descs["a"], descs["b"])
    notes = [f"{len(refs[side])} of {side} ({'given' if given[side] else 'training footage'})" for side in "ab"]
    print(f"{args.model_dir} ({net.settings.name}: a = {net.names[0]}, b = {net.names[1]}); "
          f"references: {', '.join(notes)}\n")
    print("| direction | frames | faces found | recognised as target | radius | nearer the target | "
          "median distance to target | to source | detail ratio |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|")
    for key, (source, target) in (("a2b", net.names), ("b2a", net.names[::-1])):
        r = result[key]
        print(f"| {source} -> {target} | {r['outputs']} | {r['found']} | {r['recognised']:.0%} | {r['radius']:.2f} | "
              f"{r['share_target']:.0%} | {r['median_to_target']:.3f} | {r['median_to_source']:.3f} | "
              f"{r['detail_ratio']:.2f} |")


if __name__ == "__main__":
    main()
