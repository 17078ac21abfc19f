"""Ceiling check: how well would a *perfect* decoder do with each coverage and mask?

A real aligned face of the target person (the held-out frame of nearest head pose) is
pasted into each held-out frame of the source through the conversion pipeline (model
square at the given coverage, mask, Lab colour, feathering), then scored with the strict
identity metric (`swapface.metrics.identity_scores`: recognised as the target). No
trained model can score above this: it is what coverage and mask leave possible. Its
detail ratio is the sharpest a model drawing faces of that size can get: the real face,
only resampled to the model's square and back.

    python benchmarks/ceiling.py [--sizes 64 128] [--default-only] [--out benchmarks/ceiling.json] [--images DIR]

Prints a markdown table; held-out frames as in benchmarks/identity_check.py.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
from pathlib import Path

from swapface import evaluate, faces, media, metrics, model, swap

sys.path.insert(0, str(Path(__file__).parent))
from identity_check import held_out, references  # noqa: E402

# (coverage, mask, forehead): 2017's defaults first, then wider views.
VARIANTS = [(1.0, "hull+rect", 0.0), (0.8, "hull+rect", 0.0), (0.8, "face", 0.25), (0.8, "face", 0.4),
            (0.7, "face", 0.25)]
DEFAULT = (0.8, "face", 0.25)
SIZES = {64: "lite", 128: "lite128"}  # a preset of each face size: only its size and coverage matter here


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", type=int, nargs="+", default=[64], choices=sorted(SIZES),
                        help="the model's side in pixels (a preset of that size)")
    parser.add_argument("--default-only", action="store_true", help="only the default coverage and mask")
    parser.add_argument("--out", type=Path, help="write the numbers as JSON")
    parser.add_argument("--images", type=Path, help="write the first pasted frame of each variant here")
    args = parser.parse_args()
    frames = {person: (held_out(person), references(person)) for person in ("obama", "trump")}
    refs = {person: metrics.reference_set(frames[person][1]) for person in frames}
    radius = {person: metrics.recognition_radius(refs[person]) for person in refs}
    inputs = {}
    for person in frames:
        images = [media.read_image(p) for p in frames[person][0]]
        found = [(image, faces.largest_face(image)) for image in images]
        inputs[person] = [(image, face.landmarks) for image, face in found if face is not None]
    print(f"radius obama {radius['obama']:.3f}, trump {radius['trump']:.3f}")
    print("| size | coverage | mask | forehead | obama->trump recognised | nearer | median to target | detail | "
          "trump->obama recognised | nearer | median to target | detail |")
    print("|---|---|---|---|---|---|---|---|---|---|---|---|")
    rows = []
    for size in args.sizes:
        for coverage, mask, forehead in [DEFAULT] if args.default_only else VARIANTS:
            settings = evaluate.EvalSettings(swap_settings=swap.SwapSettings(mask=mask, forehead=forehead))
            model_settings = dataclasses.replace(model.get_preset(SIZES[size]), coverage=coverage)
            row = {"size": size, "coverage": coverage, "mask": mask, "forehead": forehead}
            for source, target in (("obama", "trump"), ("trump", "obama")):
                images, points = zip(*inputs[source])
                scores = evaluate.ceiling_scores(list(images), list(points), frames[target][0], refs[target],
                                                 refs[source], model_settings, settings, radius[target])
                row[f"{source}2{target}"] = {k: scores[k] for k in evaluate.CEILING_KEYS}
                if args.images:
                    args.images.mkdir(parents=True, exist_ok=True)
                    media.write_image(args.images / f"{source}2{target}_{size}_{coverage}_{mask}_{forehead}.jpg",
                                      scores["images"][0])
            a, b = row["obama2trump"], row["trump2obama"]
            print(f"| {size} | {coverage} | {mask} | {forehead} | {a['recognised']:.0%} | {a['share_target']:.0%} | "
                  f"{a['median_to_target']:.2f} | {a['detail_ratio']:.2f} | {b['recognised']:.0%} | "
                  f"{b['share_target']:.0%} | {b['median_to_target']:.2f} | {b['detail_ratio']:.2f} |", flush=True)
            rows.append(row)
    if args.out:
        args.out.write_text(json.dumps({"radius": radius, "rows": rows}, indent=1) + "\n")


if __name__ == "__main__":
    main()
