"""Does a converted *video* look like the target, frame by frame? The photo check, on video.

    python benchmarks/video_check.py [MODEL_DIR] [--clips CLIP...] [--to NAME] [--references data/references.npz]

Each clip is converted exactly as `swapface convert` does (`video.convert_video`: tracked,
smoothed landmarks, H.264 written and read back), then every frame whose input shows a face
is judged like the held-out photos (`benchmarks/identity_check.py`): recognised as the
target when dlib's descriptor of the output face lies within the target's radius of its
reference centroid and nearer the target than the source. Defaults: the weights in
weights/, Obama -> Trump on the two White House address clips in ../shared/data (neither
trained on), references of the training footage (data/references.npz).

Prints a markdown table: frames judged, recognised, median distances, median detail ratio.
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

import numpy as np

from swapface import faces, metrics, saving, video, videoio

ROOT = Path(__file__).resolve().parents[1]
CLIPS = [ROOT.parent / "shared" / "data" / "whitehouse" / "video" / name
         for name in ("obama_address_a.mp4", "obama_silent_b.mp4")]


def video_scores(net, clip: Path, to: str, refs: dict[str, np.ndarray], work: Path) -> dict:
    """Identity and detail scores of every frame of `clip` converted to `to`, as written to disk."""
    out = work / f"{clip.stem}_to_{to}.mp4"
    video.convert_video(clip, out, net, to, progress=False)
    side = "ab".index(net.side(to))
    target, source = net.names[side], net.names[1 - side]
    inputs, outputs, landmarks, found = [], [], [], []
    for (_, before), (_, after) in zip(videoio.iter_frames(clip), videoio.iter_frames(out)):
        face = faces.largest_face(before)
        if face is None:  # no face to swap in this frame: nothing to judge
            continue
        inputs.append(before)
        outputs.append(after[:before.shape[0], :before.shape[1]])  # drop H.264's padding, if any
        landmarks.append(face.landmarks)
    scores = metrics.identity_scores(outputs, refs[target], refs[source])
    scores["detail_ratio"] = metrics.median_or_nan(metrics.detail_ratios(inputs, outputs, landmarks))
    return scores


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("model_dir", nargs="?", type=Path, default=ROOT / "weights")
    parser.add_argument("--clips", nargs="+", type=Path, default=CLIPS)
    parser.add_argument("--to", help="the target person (default: the model's side b)")
    parser.add_argument("--references", type=Path, default=ROOT / "data" / "references.npz")
    args = parser.parse_args()
    net = saving.load(args.model_dir)
    to = args.to or net.names[1]
    refs = metrics.load_references(args.references)
    print(f"{args.model_dir} ({net.settings.name}, {net.settings.image_size} px): video -> {to}; "
          f"references {args.references.name}\n")
    print("| clip | frames with a face | recognised as target | nearer the target | median to target | "
          "to source | detail ratio |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    with tempfile.TemporaryDirectory() as work:
        for clip in args.clips:
            r = video_scores(net, clip, to, refs, Path(work))
            print(f"| {clip.name} | {r['outputs']} | {r['recognised']:.0%} | {r['share_target']:.0%} | "
                  f"{r['median_to_target']:.3f} | {r['median_to_source']:.3f} | {r['detail_ratio']:.2f} |")


if __name__ == "__main__":
    main()
