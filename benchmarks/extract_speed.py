"""Extraction speed on a 720p clip: swapface's pipeline against the naive 2017 way.

The naive way (as the original notebooks did) runs dlib's HOG detector upsampled once on
every full-resolution RGB frame. swapface detects on a 640 px grayscale copy, takes the
landmarks at full resolution and decodes the next frames in a thread meanwhile.

    python benchmarks/extract_speed.py [VIDEO] [--naive-frames 40]

Prints a markdown table; the numbers in benchmarks/README.md come from this script.
"""

from __future__ import annotations

import argparse
import platform
import tempfile
import time
from pathlib import Path

import cv2
import dlib

from swapface import extract, faces, geometry, media, videoio

DEFAULT_VIDEO = Path(__file__).resolve().parents[2] / "shared" / "data" / "whitehouse" / "video" / "obama_address_a.mp4"


def naive(video: Path, frames: int, output: Path) -> tuple[int, float, int]:
    """The 2017 loop on the first `frames` frames: returns (frames, seconds, faces)."""
    detector = dlib.get_frontal_face_detector()
    predictor = dlib.shape_predictor(str(faces.model_path("landmarks")))
    found = 0
    start = time.perf_counter()
    for index, frame in videoio.iter_frames(video):
        if index >= frames:
            break
        rgb = cv2.cvtColor(frame, cv2.COLOR_BGR2RGB)
        for n, rect in enumerate(detector(rgb, 1)):
            shape = predictor(rgb, rect)
            points = faces.np.array([(p.x, p.y) for p in shape.parts()], dtype=float)
            crop = geometry.align(frame, geometry.align_matrix(points), 256)
            cv2.imwrite(str(output / f"{index}_{n}.jpg"), crop)
            found += 1
    return min(frames, index + 1), time.perf_counter() - start, found


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("video", nargs="?", type=Path, default=DEFAULT_VIDEO)
    parser.add_argument("--naive-frames", type=int, default=40, help="frames for the (slow) naive loop")
    args = parser.parse_args()
    info = videoio.video_info(args.video)
    faces.find_faces(media.read_image(Path(__file__).resolve().parents[1] / "data/obama/c000_f00000.jpg"))  # load models
    with tempfile.TemporaryDirectory() as tmp:
        start = time.perf_counter()
        report = extract.extract([args.video], Path(tmp) / "fast", progress=False)
        fast_s = time.perf_counter() - start
        (Path(tmp) / "naive").mkdir()
        n_frames, naive_s, naive_faces = naive(args.video, args.naive_frames, Path(tmp) / "naive")
    fast_fps, naive_fps = report.frames_read / fast_s, n_frames / naive_s
    print(f"{args.video.name}: {info.width}x{info.height}, {info.frames} frames at {info.fps:.2f} fps; "
          f"{platform.processor() or platform.machine()}, {__import__('os').cpu_count()} cores\n")
    print("| method | frames | seconds | frames/s | faces kept | speed-up |")
    print("|---|---:|---:|---:|---:|---:|")
    print(f"| naive: HOG upsampled x1 on full-res RGB | {n_frames} | {naive_s:.1f} | {naive_fps:.2f} | "
          f"{naive_faces} | 1.0x |")
    print(f"| swapface extract (every frame) | {report.frames_read} | {fast_s:.1f} | {fast_fps:.1f} | "
          f"{report.faces_kept} | {fast_fps / naive_fps:.1f}x |")


if __name__ == "__main__":
    main()
