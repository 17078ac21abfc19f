"""The demo weights' learning curve: strict identity on the held-out frames, per checkpoint.

    python weights/curve.py MODEL_DIR [--hours H] [--log weights/curve.json]   # add one point
    python weights/curve.py --plot [--log weights/curve.json] [--out image/demo_curve.png]

Each point: the training step and wall-clock hours of MODEL_DIR's checkpoint (hours given,
since a resumed run's clock is not in the checkpoint), and `benchmarks/identity_check.py`'s
numbers (recognised as the target, median distance, detail ratio) for both directions.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks"))


def measure(model_dir: Path, hours: float) -> dict:
    from identity_check import held_out, references

    from swapface import checkpoints, evaluate, metrics, saving

    net = saving.load(model_dir)
    extra = saving.read_config(model_dir)["extra"]
    state = checkpoints.load_state(model_dir) or {"iteration": extra.get("iteration", extra.get("iterations"))}
    refs = {person: metrics.reference_set(references(person)) for person in ("obama", "trump")}
    result = evaluate.identity_check(net, held_out("obama"), held_out("trump"), refs["obama"], refs["trump"])
    return {"step": state["iteration"], "hours": hours, **result}


def plot(points: list[dict]):
    from matplotlib.figure import Figure

    fig = Figure(figsize=(7, 3.2), layout="constrained")
    left, right = fig.subplots(1, 2)
    for key, label in (("a2b", "Obama -> Trump"), ("b2a", "Trump -> Obama")):
        hours = [p["hours"] for p in points]
        left.plot(hours, [p[key]["recognised"] for p in points], marker="o", label=label)
        right.plot(hours, [p[key]["median_to_target"] for p in points], marker="o", label=label)
    left.set(xlabel="training hours (2 CPU cores)", ylabel="recognised as the target", ylim=(0, 1))
    right.set(xlabel="training hours (2 CPU cores)", ylabel="median distance to the target", ylim=(0.3, None))
    right.axhline(0.33, color="0.5", linestyle=":", linewidth=0.8)
    right.text(points[0]["hours"], 0.335, "genuine photos of a person", fontsize=7, color="0.4")
    for ax in (left, right):
        ax.legend(fontsize=7)
    return fig


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("model_dir", nargs="?", type=Path)
    parser.add_argument("--hours", type=float)
    parser.add_argument("--log", type=Path, default=ROOT / "weights" / "curve.json")
    parser.add_argument("--plot", action="store_true")
    parser.add_argument("--out", type=Path, default=ROOT / "image" / "demo_curve.png")
    args = parser.parse_args()
    points = json.loads(args.log.read_text()) if args.log.is_file() else []
    if args.model_dir is not None:
        points.append(measure(args.model_dir, args.hours))
        points.sort(key=lambda p: p["hours"])
        args.log.write_text(json.dumps(points, indent=1) + "\n")
        print(json.dumps(points[-1]))
    if args.plot:
        from swapface import figures

        figures.save(plot(points), args.out)


if __name__ == "__main__":
    main()
