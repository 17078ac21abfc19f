"""The demo weights' learning curve: strict identity on the held-out frames, per checkpoint.

    python weights/curve.py MODEL_DIR [--hours H] [--earlier-steps 10010] [--log weights/curve.json]   # add one point
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


def measure(model_dir: Path, hours: float, earlier_steps: int) -> dict:
    from identity_check import held_out

    from swapface import checkpoints, evaluate, files, metrics, saving

    net = saving.load(model_dir)
    extra = saving.read_config(model_dir)["extra"]
    # A training checkpoint counts the steps of its own run only: a model folder's latest one,
    # or a single checkpoint folder copied out of checkpoints/ (its state.json beside the weights).
    single = model_dir / checkpoints.STATE_FILE
    state = checkpoints.load_state(model_dir)
    if state is None and single.is_file():
        state = files.read_json(single, "training state")
    step = earlier_steps + state["iteration"] if state else extra.get("iterations", extra.get("iteration"))
    refs = metrics.load_references(ROOT / "data" / "references.npz")  # identity_check.py's, saved
    result = evaluate.identity_check(net, held_out("obama"), held_out("trump"), refs["obama"], refs["trump"])
    adversarial = (state or {}).get("loss", {}).get("adversarial", 0.0)  # the term's weight, where one trained with it
    return {"step": step, "hours": hours, "preset": net.settings.name, "adversarial": adversarial, **result}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("model_dir", nargs="?", type=Path)
    parser.add_argument("--hours", type=float)
    parser.add_argument("--earlier-steps", type=int, default=10_010,
                        help="steps of the weights a checkpoint's run started from (stage 1)")
    parser.add_argument("--log", type=Path, default=ROOT / "weights" / "curve.json")
    parser.add_argument("--plot", action="store_true")
    parser.add_argument("--out", type=Path, default=ROOT / "image" / "demo_curve.png")
    args = parser.parse_args()
    points = json.loads(args.log.read_text()) if args.log.is_file() else []
    if args.model_dir is not None:
        points.append(measure(args.model_dir, args.hours, args.earlier_steps))
        points.sort(key=lambda p: p["hours"])
        args.log.write_text(json.dumps(points, indent=1) + "\n")
        print(json.dumps(points[-1]))
    if args.plot:
        from swapface import figures

        # The 128 px aims: sharper than any 64 px model can be Trump -> Obama (its ceiling is 0.40),
        # and 0.10 Obama -> Trump, where even a perfect 128 px decoder reaches only 0.17.
        small = [p["hours"] for p in points if p.get("preset", "lite") == "lite"]  # early points name no preset
        plain = [p["hours"] for p in points if not p.get("adversarial")]
        marks = [(max(small), "grown to 128 px")] if len(small) < len(points) else []
        marks += [(max(plain), "adversarial term")] if len(plain) < len(points) else []
        figure = figures.learning_curve_figure(points, {"a2b": "Obama -> Trump", "b2a": "Trump -> Obama"},
                                               detail_target={"a2b": 0.10, "b2a": 0.40}, marks=marks)
        figures.save(figure, args.out)


if __name__ == "__main__":
    main()
