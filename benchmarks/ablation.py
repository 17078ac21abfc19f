"""Ablation of the training recipe at equal CPU time: which ingredient buys what?

Each variant trains a fresh `lite` model (seed 0, batch 16) on the White House training
split for the same wall time, one after the other (run nothing else meanwhile), then is
measured on the held-out frames with `swapface.evaluate.evaluate` (strict identity,
distances, detail ratio, reconstruction SSIM, and the ceiling of its coverage and mask).

    python benchmarks/ablation.py [--minutes 15] [--work runs/ablation] [--evaluate-only]

Needs ../shared/data beside the project. Writes WORK/results.json, prints a markdown table
and writes image/ablation.jpg (one row of held-out swaps per variant). A variant already
trained in WORK is not trained again, so an interrupted run resumes.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import cv2
import numpy as np

sys.path.insert(0, str(Path(__file__).parent))
from identity_check import SHARED, held_out, references  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
# name: (extra `swapface train` options, what it shows). Each adds one ingredient to the one above.
VARIANTS = {
    "2017": (["--recipe-2017"], "MAE, coverage 1.0, float32 (the 2017 recipe)"),
    "coverage": (["--coverage", "0.8", "--loss", "mae", "--no-mask-loss", "--precision", "float32"],
                 "+ coverage 0.8"),
    "dssim+mask": (["--coverage", "0.8", "--precision", "float32"],
                   "+ L1+DSSIM, masked loss, eyes and mouth x3"),
    "bf16": (["--coverage", "0.8", "--precision", "mixed"], "+ bfloat16 (the default recipe)"),
    "learned-mask": (["--coverage", "0.8", "--precision", "mixed", "--learned-mask"],
                     "+ a learned mask, converted with --mask learned"),
    "128px": (["--coverage", "0.8", "--precision", "mixed", "--preset", "lite128"], "the recipe at 128 px (lite128)"),
}
CONVERT_MASK = {"2017": "hull+rect", "learned-mask": "learned"}  # else the default, "face"


def training_faces(work: Path) -> tuple[Path, Path]:
    """Extract the White House training split (the held-out frames excluded) once."""
    folders = []
    for person in ("obama", "trump"):
        faces = work / "faces" / person
        if not (faces / "alignments.json").is_file():
            held = set(held_out(person))
            source = work / "src" / person
            source.mkdir(parents=True, exist_ok=True)
            for path in sorted((SHARED / person).glob("*.jpg")):
                if path not in held and not (source / path.name).exists():
                    os.symlink(path.resolve(), source / path.name)
            subprocess.run(["swapface", "extract", str(source), "-o", str(faces)], check=True)
        folders.append(faces)
    return folders[0], folders[1]


def train(name: str, options: list[str], faces: tuple[Path, Path], work: Path, seconds: float,
          iterations: int = 10_000_000) -> int:
    """Train variant `name` for `seconds` of wall time (SIGTERM then saves); returns its steps."""
    model_dir = work / name
    command = ["swapface", "train", *map(str, faces), "-m", str(model_dir), "--preset", "lite",
               "--batch-size", "16", "--save-every", "250", "--iterations", str(iterations),
               "--names", "obama", "trump", "--seed", "0", *options]
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        process.wait(timeout=seconds)
    except subprocess.TimeoutExpired:
        process.send_signal(signal.SIGTERM)
        process.wait()
    return json.loads((model_dir / "state.json").read_text())["iteration"]


def run_training(faces, work: Path, seconds: float) -> dict:
    """Train every variant; bf16 also gets a copy at float32's step count (equal-step quality)."""
    done_file = work / "trained.json"
    done = json.loads(done_file.read_text()) if done_file.is_file() else {}
    for name, (options, _) in VARIANTS.items():
        if name in done:
            continue
        start = time.monotonic()
        if name == "bf16":  # first exactly float32's steps, kept aside, then the rest of the time
            train(name, options, faces, work, seconds, iterations=done["dssim+mask"]["steps"])
            shutil.copytree(work / name / "latest", work / "bf16-equal-steps", symlinks=False, dirs_exist_ok=True)
        steps = train(name, options, faces, work, seconds - (time.monotonic() - start))
        done[name] = {"steps": steps, "seconds": time.monotonic() - start}
        done_file.write_text(json.dumps(done, indent=1))
        print(f"{name}: {steps} steps in {done[name]['seconds']:.0f} s", flush=True)
    return done


def settings_for(name: str):
    """How variant `name` is converted for its measurement: its recipe's mask."""
    from swapface import evaluate, swap

    return evaluate.EvalSettings(swap_settings=swap.SwapSettings(mask=CONVERT_MASK.get(name, "face")))


def measure(work: Path, done: dict) -> dict:
    """Evaluate every trained variant not measured yet (results.json keeps earlier ones)."""
    from swapface import evaluate, report, saving

    frames = {person: held_out(person) for person in ("obama", "trump")}
    refs = {person: references(person) for person in frames}
    saved = work / "results.json"
    results = json.loads(saved.read_text()) if saved.is_file() else {}
    for name in [*VARIANTS, "bf16-equal-steps"]:
        if name in results or not (work / name).is_dir():
            continue
        net = saving.load(work / name)
        result = evaluate.evaluate(net, frames["obama"], frames["trump"], refs["obama"], refs["trump"],
                                   settings=settings_for(name))
        result["training"] = done.get(name, {"steps": json.loads((work / name / "state.json").read_text())["iteration"]})
        results[name] = json.loads(json.dumps(result, default=float))
        saved.write_text(json.dumps(results, indent=1))
        print(name, report.summary(result).replace("\n", " | "), flush=True)
    return results


def table(results: dict) -> str:
    rows = ["| variant | steps | Obama->Trump recognised (ceiling) | nearer | median to Trump | "
            "Trump->Obama recognised (ceiling) | nearer | median to Obama | SSIM a / b | detail ratio a2b / b2a |",
            "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for name, r in results.items():
        a, b, rec = r["a2b"], r["b2a"], r["reconstruction"]
        rows.append(f"| {name} | {r['training']['steps']} | {a['recognised']:.0%} ({a['ceiling']['recognised']:.0%}) | "
                    f"{a['share_target']:.0%} | {a['median_to_target']:.2f} | {b['recognised']:.0%} "
                    f"({b['ceiling']['recognised']:.0%}) | {b['share_target']:.0%} | {b['median_to_target']:.2f} | "
                    f"{rec['a']['ssim']:.3f} / {rec['b']['ssim']:.3f} | {a['detail_ratio']:.2f} / {b['detail_ratio']:.2f} |")
    return "\n".join(rows)


def image_rows(work: Path, out: Path) -> None:
    """One row per variant: the same held-out faces before | after, both directions, 128 px."""
    from swapface import evaluate, media, report, saving

    obama, trump = held_out("obama")[::23][:3], held_out("trump")[::15][:3]
    rows = []
    for name in VARIANTS:
        if not (work / name).is_dir():
            continue
        net = saving.load(work / name)
        pairs = report.before_after(*evaluate.swap_images(net, obama, "b", settings_for(name))) + \
            report.before_after(*evaluate.swap_images(net, trump, "a", settings_for(name)))
        row = np.hstack([image for pair in pairs for image in pair])
        cv2.putText(row, name, (6, 22), cv2.FONT_HERSHEY_SIMPLEX, 0.7, (255, 255, 255), 2, cv2.LINE_AA)
        rows.append(row)
    media.write_image(out, np.vstack(rows))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--minutes", type=float, default=15.0, help="wall time per variant")
    parser.add_argument("--work", type=Path, default=ROOT / "runs" / "ablation")
    parser.add_argument("--evaluate-only", action="store_true")
    args = parser.parse_args()
    args.work.mkdir(parents=True, exist_ok=True)
    faces = training_faces(args.work)
    done = json.loads((args.work / "trained.json").read_text()) if args.evaluate_only \
        else run_training(faces, args.work, args.minutes * 60)
    results = measure(args.work, done)
    print(table(results))
    image_rows(args.work, ROOT / "image" / "ablation.jpg")


if __name__ == "__main__":
    main()
