"""Training speed on this machine: swapface's training loop against the naive 2017 loop.

The naive loop (as the 2017 script did) augments each batch in the main thread, then calls
`train_on_batch` on autoencoder A and on autoencoder B. swapface's loop takes the same
batches from `batches.BatchStream` worker processes and runs the same two steps. Both run
the same model in alternating rounds (the best round of each counts), after a warm-up
step that traces the train functions.
images/s counts faces trained on, both sides: 2 x batch x iterations / seconds. A second
table times one training step (2017's MAE, the same batches) in float32 and under the
mixed bfloat16 policy `--precision auto` picks on this CPU, in the same run, alternating;
the last rows time the augmentation pipeline alone, in augmented 64 px pairs per second.

    swapface extract /work/shared/data/whitehouse/obama -o /tmp/faces/obama
    swapface extract /work/shared/data/whitehouse/trump -o /tmp/faces/trump
    python benchmarks/train_speed.py /tmp/faces/obama /tmp/faces/trump [--quick]   # full: ~15 min on 2 cores

`--quick` runs batch 16 only, 2 rounds of 1 step: a smoke test, not a measurement.
Prints a markdown table.
"""

from __future__ import annotations

import argparse
import os
import platform
import time
from pathlib import Path

from swapface import batches, devices, losses, train


def naive_loop(net, faces, settings: train.TrainSettings, iterations: int, start: int) -> float:
    """Seconds for `iterations` steps with augmentation in the main thread (the 2017 way)."""
    began = time.perf_counter()
    for index in range(start, start + iterations):
        warped_a, target_a, warped_b, target_b = batches.make_batch(*faces, index, settings.seed, settings.batch_size)
        net.autoencoder_a.train_on_batch(warped_a, target_a)
        net.autoencoder_b.train_on_batch(warped_b, target_b)
    return time.perf_counter() - began


def pipelined_loop(steps, stream: batches.BatchStream, iterations: int) -> float:
    """Seconds for `iterations` steps as `swapface train` runs them (worker processes, `make_steps`)."""
    began = time.perf_counter()
    for _ in range(iterations):
        warped_a, target_a, warped_b, target_b = next(stream)
        steps["a"](warped_a, target_a)
        steps["b"](warped_b, target_b)
    return time.perf_counter() - began


def compare(net, faces, settings: train.TrainSettings, iterations: int, rounds: int) -> tuple[float, float]:
    """Best seconds of each loop over `rounds` alternating rounds: (naive, swapface).

    Alternating and taking the best of each keeps other load on a shared machine from
    favouring whichever loop happened to run in a quiet moment.
    """
    naive, fast = [], []
    with batches.BatchStream(*faces, train.batch_settings(settings), start=1 + iterations * rounds) as stream:
        next(stream)  # workers started and their slots full: time the steady state only
        steps = train.make_steps(net)
        for round_ in range(rounds):
            naive.append(naive_loop(net, faces, settings, iterations, 1 + round_ * iterations))
            fast.append(pipelined_loop(steps, stream, iterations))
    return min(naive), min(fast)


def pipeline_only(faces, settings: train.TrainSettings, seconds: float) -> float:
    """Augmented pairs per second the workers deliver when nothing else runs."""
    with batches.BatchStream(*faces, train.batch_settings(settings)) as stream:
        next(stream)
        began, count = time.perf_counter(), 0
        while time.perf_counter() - began < seconds:
            next(stream)
            count += 1
        return 2 * settings.batch_size * count / (time.perf_counter() - began)


def precision_steps(preset: str, faces, batch_size: int, iterations: int, rounds: int) -> dict[str, float]:
    """Best seconds for `iterations` steps of each policy, float32 and the chosen mixed one."""
    from swapface import model as sm

    policies = ["float32", devices.choose_policy("mixed")]
    models = {}
    for policy in policies:
        with devices.policy(policy):
            models[policy] = sm.build(preset)
        losses.compile_model([models[policy].autoencoder_a, models[policy].autoencoder_b])  # 2017's MAE
        naive_loop(models[policy], faces, train.TrainSettings(batch_size=batch_size), 1, 0)  # trace
    best = {policy: float("inf") for policy in policies}
    for round_ in range(rounds):
        for policy in policies:
            seconds = naive_loop(models[policy], faces, train.TrainSettings(batch_size=batch_size), iterations,
                                 1 + round_ * iterations)
            best[policy] = min(best[policy], seconds)
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("faces_a", type=Path)
    parser.add_argument("faces_b", type=Path)
    parser.add_argument("--quick", action="store_true", help="batch 16 only, 2 rounds of 1 step: a smoke test")
    parser.add_argument("--presets", nargs="+", default=["original", "lite"])
    parser.add_argument("--batch-sizes", nargs="+", type=int, default=[16, 64])
    parser.add_argument("--iterations", type=int, default=5, help="timed steps per loop and round (3 rounds)")
    parser.add_argument("--workers", type=int, default=None, help="augmentation processes (default: train's)")
    parser.add_argument("--precision-only", action="store_true", help="only the float32 / bfloat16 table")
    args = parser.parse_args()
    batch_sizes, iterations, rounds = ([16], 1, 2) if args.quick else (args.batch_sizes, args.iterations, 3)
    from swapface import model as sm

    faces = (batches.load_faces(args.faces_a), batches.load_faces(args.faces_b))
    workers = batches.default_workers() if args.workers is None else args.workers
    print(f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores; "
          f"{len(faces[0])} + {len(faces[1])} faces; {workers} augmentation worker(s); "
          f"best of {rounds} alternating rounds of {iterations} step(s) per loop\n")
    print("| preset | batch | float32 images/s | mixed images/s | policy | speed-up |")
    print("|---|---:|---:|---:|---|---:|")
    for preset in args.presets:
        best = precision_steps(preset, faces, 16, iterations, rounds)
        (fp32, fp32_s), (mixed, mixed_s) = best.items()
        images = 2 * 16 * iterations
        print(f"| {preset} | 16 | {images / fp32_s:.1f} | {images / mixed_s:.1f} | {mixed} | "
              f"{fp32_s / mixed_s:.2f}x |", flush=True)
    if args.precision_only:
        return
    print()
    print("| preset | batch | naive images/s | swapface images/s | ratio |")
    print("|---|---:|---:|---:|---:|")
    for preset in args.presets:
        for batch_size in batch_sizes:
            settings = train.TrainSettings(preset=preset, batch_size=batch_size, workers=workers)
            net = sm.build(preset)
            losses.compile_model([net.autoencoder_a, net.autoencoder_b])
            naive_loop(net, faces, settings, 1, 0)  # warm-up: trace both train functions
            naive_s, fast_s = compare(net, faces, settings, iterations, rounds)
            images = 2 * batch_size * iterations
            print(f"| {preset} | {batch_size} | {images / naive_s:.1f} | {images / fast_s:.1f} | "
                  f"{naive_s / fast_s:.2f}x |", flush=True)
    print("\n| augmentation | pairs/s |")
    print("|---|---:|")
    seconds = 3 if args.quick else 10
    for count in sorted({0, 1, workers, os.cpu_count() or 1}):
        settings = train.TrainSettings(batch_size=64, workers=count)
        label = "main thread (naive)" if count == 0 else f"{count} worker process(es)"
        print(f"| {label} | {pipeline_only(faces, settings, seconds):.0f} |", flush=True)


if __name__ == "__main__":
    main()
