"""A new pair in half an hour? Held-out swaps recognised as the target per CPU-minute of
training, from scratch, from the pretrained base and from the 64 px Obama/Trump bundle.

    python benchmarks/new_pair.py katiehill lp_d10 [--arms base scratch demo64] [--sittings 5 5 10 10] [--ceiling]
        [--seed N]
    python benchmarks/new_pair.py --table | --plot [--out image/new_pair.png]

Two people of ../shared/data/people/, both held out of `weights/base` (weights/base_faces.sh
names which). Each clip is split by time: the first 3/4 trains (every 2nd frame, as
`swapface extract --every 2` reads a clip), the last 1/4 is held out (every 2nd frame);
references are 40 training frames spread over the split. Each arm trains the demo's recipe
(`lite`, batch 16, L1 + DSSIM on the face, coverage 0.8) with `swapface train --minutes`, in
sittings resumed with the same command; after each sitting the held-out frames are swapped
both ways and judged by the strict measure (`metrics.identity_scores`: within the target's
recognition radius of its centroid and nearer the target than the source). Points go to
WORK/curve.json; a stopped run skips the sittings it has. The `demo64` arm needs the 64 px
bundle: `git archive 3533f99 weights | tar -x -C runs/weights-v3`. Run nothing else meanwhile:
the budget is wall-clock minutes.

`--seed N` (N > 0) repeats an arm with other augmentation and fresh weights, beside the seed-0
run (its own model folder, its own points): how far apart two runs of one arm land says how
large a difference between arms must be to mean something.

`--ceiling` also scores a perfect decoder once per pair: real held-out faces of the target
pasted with the same coverage and mask. It bounds what any training can reach: the pasted
face keeps the source's head, hair and outline, so for some pairs (a man's face on a woman's
head, with references from one short clip) even real faces are not recognised.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PEOPLE = ROOT.parent / "shared" / "data" / "people"
ARMS = {"scratch": None, "base": ROOT / "weights" / "base", "demo64": ROOT / "runs" / "weights-v3" / "weights"}
HELD_OUT = 0.25  # the last quarter of every clip is never trained on
EVERY = 2  # every 2nd frame: neighbours are near-duplicates
REFERENCES = 40
SCALARS = ("outputs", "found", "recognised", "share_target", "radius", "median_to_target", "median_to_source")


def split(person: str, work: Path) -> tuple[Path, Path]:
    """Write the person's training and held-out frames as JPEGs (once); return both folders."""
    from swapface import media, videoio

    train, held = work / person / "train", work / person / "held"
    if not (work / person / "split.done").exists():
        clips = sorted((PEOPLE / person).glob("*.mp4"))
        if not clips:
            raise media.MediaError(PEOPLE / person, "no clips (is ../shared/data beside the project?)")
        for clip in clips:
            videoio.split_frames(clip, train, held, HELD_OUT, EVERY)
        (work / person / "split.done").touch()
    return train, held


def faces_of(person: str, work: Path) -> Path:
    """The aligned training faces of `person` (extracted once)."""
    train, _ = split(person, work)
    faces = work / person / "faces"
    if not (faces / "alignments.json").exists():
        subprocess.run(["swapface", "extract", str(train), "-o", str(faces)], check=True)
    return faces


def references(person: str, work: Path):
    """(N, 128) descriptors of REFERENCES training frames of `person`, spread over the clip."""
    from swapface import media, metrics

    train = media.list_inputs([split(person, work)[0]])
    return metrics.reference_set(train[:: max(1, len(train) // REFERENCES)][:REFERENCES])


def score(model_dir: Path, people: tuple[str, str], work: Path) -> dict:
    """The strict identity check of the model in `model_dir` on both people's held-out frames."""
    from swapface import evaluate, media, saving

    frames = [media.list_inputs([split(person, work)[1]]) for person in people]
    refs = [references(person, work) for person in people]
    return evaluate.identity_check(saving.load(model_dir), *frames, *refs)


def ceiling(people: tuple[str, str], work: Path) -> dict:
    """What a perfect decoder would score on the pair's held-out frames, per direction: real
    held-out faces of the target, nearest in head pose, pasted with the `lite` model's
    coverage and mask (`evaluate.ceiling_scores`). No training can beat it."""
    from swapface import evaluate, faces, media, model

    settings = dataclasses.replace(model.PRESETS["lite"], coverage=0.8)  # as the arms train it
    held = {person: media.list_inputs([split(person, work)[1]]) for person in people}
    refs = {person: references(person, work) for person in people}
    result = {}
    for key, source, target in (("a2b", *people), ("b2a", *people[::-1])):
        images = [media.read_image(path) for path in held[source]]
        found = [(image, face.landmarks) for image in images if (face := faces.largest_face(image)) is not None]
        inputs, landmarks = (list(column) for column in zip(*found))
        scores = evaluate.ceiling_scores(inputs, landmarks, held[target], refs[target], refs[source], settings)
        result[key] = {name: scores[name] for name in SCALARS}
    return result


def run_arm(people: tuple[str, str], arm: str, sittings: list[float], work: Path, points: list,
            seed: int = 0) -> None:
    """Train `arm` sitting by sitting (skipping those in `points`), scoring after each."""
    from swapface import checkpoints

    pair = "-".join(people)
    model_dir = work / pair / (arm if seed == 0 else f"{arm}-seed{seed}")  # seed 0 keeps the first runs' folders
    minutes = 0.0
    for sitting in sittings:
        minutes += sitting
        if any(p["pair"] == pair and p["arm"] == arm and p.get("seed", 0) == seed and p["minutes"] == minutes
               for p in points):
            continue
        command = ["swapface", "train", *(str(faces_of(p, work)) for p in people), "-m", str(model_dir),
                   "--preset", "lite", "--batch-size", "16", "--save-every", "500", "--coverage", "0.8",
                   "--names", *people, "--minutes", str(sitting), "--seed", str(seed)]
        if ARMS[arm] is not None:
            command += ["--pretrained", str(ARMS[arm])]  # ignored when resuming
        subprocess.run(command, check=True)
        result = score(model_dir, people, work)
        steps = checkpoints.load_state(model_dir)["iteration"]
        points.append({"pair": pair, "arm": arm, "seed": seed, "minutes": minutes, "steps": steps, **result})
        save(points, work)
        print(f"{pair} {arm} seed {seed} {minutes:g} min ({steps} steps): "
              f"recognised {result['a2b']['recognised']:.0%} / {result['b2a']['recognised']:.0%}", flush=True)


def save(points: list, work: Path) -> None:
    path = work / "curve.json"
    path.write_text(json.dumps(points, indent=1, default=float) + "\n")


def table(points: list) -> str:
    rows = ["| pair | arm | minutes | steps | A -> B recognised | median to B | B -> A recognised | median to A |",
            "|---|---|---:|---:|---:|---:|---:|---:|"]
    for p in sorted(points, key=lambda p: (p["pair"], p["arm"] != "ceiling", p["arm"], p.get("seed", 0),
                                           p["minutes"] or 0)):
        a2b, b2a = p["a2b"], p["b2a"]
        minutes, steps = (f"{p['minutes']:g}", p["steps"]) if p["minutes"] is not None else ("", "")  # the ceiling
        arm = p["arm"] + (f" (seed {p['seed']})" if p.get("seed", 0) else "")
        rows.append(f"| {p['pair']} | {arm} | {minutes} | {steps} | {a2b['recognised']:.0%} | "
                    f"{a2b['median_to_target']:.2f} | {b2a['recognised']:.0%} | {b2a['median_to_target']:.2f} |")
    return "\n".join(rows)


def passable_mean(points: list) -> dict:
    """Per arm (seed 0), the mean % recognised per sitting over the directions whose ceiling
    is at least 50% (no training can pass the others); only directions the arm ran.
    Returns {arm: (minutes, mean %, number of directions)}."""
    passable = [(p["pair"], key) for p in points if p["arm"] == "ceiling" for key in ("a2b", "b2a")
                if p[key]["recognised"] >= 0.5]
    result = {}
    for arm in sorted({p["arm"] for p in points} - {"ceiling"}):
        mine = [p for p in points if p["arm"] == arm and p.get("seed", 0) == 0]
        directions = [(pair, key) for pair, key in passable if any(p["pair"] == pair for p in mine)]
        if not directions:
            continue  # no ceiling scored on this arm's pairs: nothing says which directions can pass
        minutes = sorted({p["minutes"] for p in mine})
        mean = [100 * sum(p[key]["recognised"] for pair, key in directions for p in mine
                          if p["pair"] == pair and p["minutes"] == m) / len(directions) for m in minutes]
        result[arm] = (minutes, mean, len(directions))
    return result


def plot(points: list, out: Path) -> None:
    """Recognised as the target against training minutes: one panel per pair, a line per arm
    and direction (solid A -> B, dashed B -> A); repeats with another seed thin and pale."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    pairs = sorted({p["pair"] for p in points})
    fig, axes = plt.subplots(1, len(pairs) + 1, figsize=(5 * (len(pairs) + 1), 3.6), squeeze=False, sharey=True)
    colours = {"base": "tab:green", "scratch": "tab:red", "demo64": "tab:blue"}
    mean_ax = axes[0][-1]
    means = passable_mean(points)
    widest = max((count for _, _, count in means.values()), default=0)
    for arm, (minutes, mean, count) in means.items():
        if count < widest:
            continue  # an arm run on fewer pairs: its mean is over other directions, not comparable
        mean_ax.plot([0, *minutes], [0, *mean], marker="o", color=colours[arm], label=f"{arm} ({count} directions)")
    mean_ax.set(title="mean over the directions a perfect decoder passes", xlabel="minutes of training (2 CPU cores)")
    mean_ax.axhline(80, color="grey", lw=0.8, ls=":")
    mean_ax.legend(fontsize=7, loc="lower right")
    for ax, pair in zip(axes[0], pairs):
        a, b = pair.split("-")
        runs = sorted({(p["arm"], p.get("seed", 0)) for p in points if p["pair"] == pair and p["arm"] in colours})
        for arm, seed in runs:
            mine = sorted((p for p in points if p["pair"] == pair and p["arm"] == arm and p.get("seed", 0) == seed),
                          key=lambda p: p["minutes"])
            x = [0] + [p["minutes"] for p in mine]
            for key, style, label in (("a2b", "-", f"{a} -> {b}"), ("b2a", "--", f"{b} -> {a}")):
                y = [0] + [100 * p[key]["recognised"] for p in mine]
                repeat = {"lw": 0.9, "alpha": 0.45, "markersize": 3} if seed else {}
                ax.plot(x, y, style, marker="o", color=colours[arm],
                        label=f"{arm}{f' seed {seed}' if seed else ''}: {label}", **repeat)
        ax.axhline(80, color="grey", lw=0.8, ls=":")
        for p in (p for p in points if p["pair"] == pair and p["arm"] == "ceiling"):  # what a perfect decoder scores
            for key, style in (("a2b", "-"), ("b2a", "--")):
                ax.axhline(100 * p[key]["recognised"], color="black", lw=0.8, ls=style, alpha=0.5)
        ax.set(title=pair, xlabel="minutes of training (2 CPU cores)", ylim=(-3, 103))
        ax.legend(fontsize=7, loc="lower right")
    axes[0][0].set_ylabel("held-out swaps recognised as target (%)")
    fig.tight_layout()
    fig.savefig(out, dpi=110)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("people", nargs="*", help="two folder names of ../shared/data/people")
    parser.add_argument("--arms", nargs="*", choices=list(ARMS), default=["base", "scratch"])
    parser.add_argument("--sittings", nargs="+", type=float, default=[5, 5, 10, 10], help="minutes per sitting")
    parser.add_argument("--work", type=Path, default=ROOT / "runs" / "new_pair")
    parser.add_argument("--ceiling", action="store_true", help="also score a perfect decoder on the pair (once)")
    parser.add_argument("--seed", type=int, default=0, help="another seed repeats an arm beside the first run")
    parser.add_argument("--table", action="store_true")
    parser.add_argument("--plot", action="store_true")
    parser.add_argument("--out", type=Path, default=ROOT / "image" / "new_pair.png")
    args = parser.parse_args()
    path = args.work / "curve.json"
    points = json.loads(path.read_text()) if path.exists() else []
    if args.people:
        if len(args.people) != 2:
            sys.exit("give two people")
        people = tuple(args.people)
        if args.ceiling and not any(p["pair"] == "-".join(people) and p["arm"] == "ceiling" for p in points):
            points.append({"pair": "-".join(people), "arm": "ceiling", "minutes": None, "steps": None,
                           **ceiling(people, args.work)})
            save(points, args.work)
        for arm in args.arms:
            run_arm(people, arm, args.sittings, args.work, points, args.seed)
    if args.table:
        print(table(points))
        for arm, (minutes, mean, count) in passable_mean(points).items():
            print(f"{arm}: mean over {count} passable directions " +
                  ", ".join(f"{m:g} min {v:.0f}%" for m, v in zip(minutes, mean)))
    if args.plot:
        plot(points, args.out)


if __name__ == "__main__":
    main()
