"""Save a training run's latest checkpoint as the bundled demo weights, with how it was made.

    python weights/save_demo.py MODEL_DIR [--out weights] [--earlier-steps N] [--trained-by SCRIPT] [--float16]

`--earlier-steps`: steps of the weights the run started from (`--pretrained`), so the
config says how many steps the bundle holds in all; by default the count that model's own
config.json states (0 for a run from scratch).
"""

from __future__ import annotations

import argparse
from pathlib import Path

from swapface import checkpoints, saving

ROOT = Path(__file__).resolve().parents[1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("model_dir", type=Path)
    parser.add_argument("--out", type=Path, default=ROOT / "weights")
    parser.add_argument("--earlier-steps", type=int, default=None)
    parser.add_argument("--trained-by", default="weights/train_demo.sh", help="the script that reproduces them")
    parser.add_argument("--float16", action="store_true", help="store the arrays at half size (loaded as float32)")
    args = parser.parse_args()
    state = checkpoints.load_state(args.model_dir)
    net = saving.load(args.model_dir)
    if args.earlier_steps is None:
        start = state.get("pretrained")
        args.earlier_steps = saving.read_config(start)["extra"].get("iterations", 0) if start else 0
    extra = {"iterations": args.earlier_steps + state["iteration"], "run_steps": state["iteration"],
             "batch_size": state["batch_size"], "preset": net.settings.name, "loss": state.get("loss"),
             "pretrained": state.get("pretrained"), "trained_by": args.trained_by}
    saving.save(net, args.out, extra=extra, float16=args.float16)
    print(f"{args.out}: {net.settings.name}, {extra['iterations']} steps in all")


if __name__ == "__main__":
    main()
