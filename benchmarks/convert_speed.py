"""Video conversion speed and memory: swapface against the naive 2017 loop.

The naive loop runs dlib's HOG upsampled once on every full-resolution frame and calls
`model.predict()` once per face, as the original notebooks did. swapface detects on a
640 px copy every 4th frame (tracking in between), batches 8 frames of faces into one
model call, blends in the face's region only, and encodes in ffmpeg alongside.

    python benchmarks/convert_speed.py [--presets lite2x lite] [--naive-frames 20]

Each preset in turn, in the same run: the demo's 128 px model and the 64 px one beside it.

Peak memory is measured in a fresh process per video length (the 1 s and 9.6 s clips,
and the 9.6 s clip three times over), to show it does not grow with the length.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared" / "data" / "whitehouse" / "video"


def run_one(video: str, preset: str, output: str) -> dict:
    """Convert one video in this process; returns frames, seconds and peak RSS."""
    from swapface import model, video as videos

    net = model.build(preset)
    size = net.settings.image_size
    model.encode_decode(net, __import__("numpy").zeros((8, size, size, 3), "float32"), "b")  # warm up
    report = videos.convert_video(video, output, net, "b", progress=False)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return {"frames": report.frames, "seconds": report.seconds, "peak_mb": peak}


def naive(video: Path, preset: str, frames: int) -> dict:
    """The 2017 loop on the first `frames` frames (no writing: it only flatters the baseline)."""
    import cv2
    import dlib
    import numpy as np

    from swapface import faces, model, swap, videoio

    net = model.build(preset)
    detector = dlib.get_frontal_face_detector()
    predictor = dlib.shape_predictor(str(faces.model_path("landmarks")))
    size = net.settings.image_size
    net.autoencoder_b.predict(np.zeros((1, size, size, 3), np.float32), verbose=0)
    start, done = time.perf_counter(), 0
    for index, frame in videoio.iter_frames(video):
        if index >= frames:
            break
        rgb = cv2.cvtColor(frame, cv2.COLOR_BGR2RGB)
        for rect in detector(rgb, 1):
            points = np.array([(p.x, p.y) for p in predictor(rgb, rect).parts()], dtype=float)
            matrix = swap.face_job(0, points, net.settings).matrix
            face = net.autoencoder_b.predict(swap.model_input(frame, matrix, size)[None], verbose=0)[0]
            frame = swap.blend(frame, face, points, matrix)
        done += 1
    return {"frames": done, "seconds": time.perf_counter() - start}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--presets", nargs="+", default=["lite2x", "lite"])
    parser.add_argument("--naive-frames", type=int, default=20)
    parser.add_argument("--one", nargs=3, metavar=("PRESET", "VIDEO", "OUTPUT"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one:
        print(json.dumps(run_one(args.one[1], args.one[0], args.one[2])))
        return
    import imageio_ffmpeg

    with tempfile.TemporaryDirectory() as tmp:
        long = Path(tmp) / "address_x3.mp4"
        listing = Path(tmp) / "list.txt"
        listing.write_text(f"file '{SHARED / 'obama_address_a.mp4'}'\n" * 3)
        subprocess.run([imageio_ffmpeg.get_ffmpeg_exe(), "-v", "error", "-f", "concat", "-safe", "0", "-i",
                        str(listing), "-c", "copy", str(long)], check=True)
        for preset in args.presets:
            rows = []
            for clip in (SHARED / "obama_silent_b.mp4", SHARED / "obama_address_a.mp4", long):
                result = subprocess.run([sys.executable, __file__, "--one", preset, str(clip),
                                         str(Path(tmp) / f"out_{clip.name}")], capture_output=True, text=True,
                                        check=True)
                rows.append((clip.name, json.loads(result.stdout.strip().splitlines()[-1])))
            base = naive(SHARED / "obama_address_a.mp4", preset, args.naive_frames)
            naive_fps = base["frames"] / base["seconds"]
            print(f"\npreset {preset}, 1280x720 clips\n")
            print("| method | clip | frames | seconds | frames/s | speed-up | peak RSS |")
            print("|---|---|---:|---:|---:|---:|---:|")
            print(f"| naive: full-res HOG x1, predict() per face | obama_address_a.mp4 (first {base['frames']}) | "
                  f"{base['frames']} | {base['seconds']:.1f} | {naive_fps:.2f} | 1.0x | |")
            for name, row in rows:
                fps = row["frames"] / row["seconds"]
                print(f"| swapface convert | {name} | {row['frames']} | {row['seconds']:.1f} | {fps:.1f} | "
                      f"{fps / naive_fps:.1f}x | {row['peak_mb']:.0f} MB |")


if __name__ == "__main__":
    main()
