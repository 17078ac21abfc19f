"""Make the README's gallery from the bundled weights: faces a person can judge.

    python weights/gallery.py [--weights weights] [--out image]

Writes OUT/gallery.jpg: held-out frames (data/, never trained on), each face cut at
256 px around the swap (before | after), Obama -> Trump above, Trump -> Obama below;
OUT/demo_clip.gif: the bundled clip before | after, Obama -> Trump, face region at 256 px;
and OUT/demo_preview.png: the training preview grid (A, A->A, A->B, B, B->B, B->A) drawn on
the same held-out frames, since the training run's own preview may show its copyrighted
training photos. All carry the "synthetic" label (provenance).
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

import numpy as np
from matplotlib.figure import Figure
from PIL import Image

from swapface import evaluate, extract, figures, geometry, media, model, provenance, report, saving, swap, train, trainset, video, videoio

ROOT = Path(__file__).resolve().parents[1]
SIZE = 256  # side of each face crop: eyes and mouth can be judged at this size


def gallery(net: model.FaceSwapModel, data: Path, per_row: int = 4) -> np.ndarray:
    """uint8 BGR: one row per direction of `per_row` (before | after) pairs, SIZE px each."""
    rows = []
    for person, to in zip(net.names, net.names[::-1]):
        frames = media.list_inputs([data / person])[:per_row]
        pairs = report.before_after(*evaluate.swap_images(net, frames, to), size=SIZE)
        rows.append(np.hstack([np.hstack(pair) for pair in pairs]))
    return provenance.add_mark(np.vstack(rows))


def clip_frames(net: model.FaceSwapModel, clip: Path, to: str, every: int = 2) -> list[np.ndarray]:
    """RGB (SIZE, 2 SIZE, 3) frames: the face region of `clip` before | after, every `every`th frame."""
    tracker = video.FaceTracker(video.VideoSettings(), swap.SwapSettings().faces)
    size, coverage = net.settings.image_size, net.settings.coverage
    out, matrix = [], None
    for index, frame in videoio.iter_frames(clip):
        points = tracker.step(frame)
        jobs = [swap.face_job(0, p, net.settings) for p in points]
        swapped = swap.swap_frames([frame], net, to, jobs=jobs)[0]
        if points and matrix is None:  # one crop for the whole clip: the face moves, the frame does not
            matrix = geometry.align_matrix(points[0], SIZE)
        if index % every or matrix is None:
            continue
        pair = np.hstack([geometry.align(frame, matrix, SIZE), geometry.align(swapped, matrix, SIZE)])
        out.append(provenance.add_mark(pair)[..., ::-1])
    return out


def preview(net: model.FaceSwapModel, data: Path, work: Path) -> Figure:
    """The training preview of `net` on the held-out frames of data/ (4 per person)."""
    inputs = []
    for person in net.names:
        extract.extract([data / person], work / person, progress=False, overwrite=True)
        crops = np.stack([media.read_image(p) for p in sorted((work / person).glob("*.jpg"))[:4]])
        inputs.append(trainset.model_view(net, crops, work / person))  # as training cuts them
    return figures.preview_figure(train.preview_rows(net, *inputs), title="held-out frames")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--weights", type=Path, default=ROOT / "weights")
    parser.add_argument("--out", type=Path, default=ROOT / "image")
    args = parser.parse_args()
    net = saving.load(args.weights)
    args.out.mkdir(parents=True, exist_ok=True)
    provenance.write_image(args.out / "gallery.jpg", gallery(net, ROOT / "data"), quality=90)
    frames = [Image.fromarray(f) for f in clip_frames(net, ROOT / "data" / "video" / "obama_silent_b.mp4",
                                                      net.names[1])]
    # GIF has no XMP: the visible mark and a comment carry the label.
    frames[0].save(args.out / "demo_clip.gif", save_all=True, append_images=frames[1:], duration=67, loop=0,
                   comment=provenance.LABEL)
    with tempfile.TemporaryDirectory() as work:
        figures.save(preview(net, ROOT / "data", Path(work)), args.out / "demo_preview.png")
    print(f"{args.out / 'gallery.jpg'}, {args.out / 'demo_clip.gif'}, {args.out / 'demo_preview.png'}")


if __name__ == "__main__":
    main()
