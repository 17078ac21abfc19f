"""What each `swapface` subcommand does once `cli` has parsed its arguments.

Each `run_<command>(args)` builds the stage's settings from the arguments, calls the
library, prints the summary and returns the exit code (see `cli` for their meaning). The
library logs and returns; printing for a person at a terminal happens here.
"""

from __future__ import annotations

import logging
import sys
from pathlib import Path

from swapface import files, media


def _summary(summary: str, failure: str | None) -> int:
    """Print a stage's summary; exit code 1 with `failure` on stderr where nothing usable came out."""
    print(summary)
    if failure is None:
        return 0
    print(f"error: {failure}", file=sys.stderr)
    return 1


def identity_filter(references: list[str], excluded: list[str] = (), threshold: float | None = None, face_settings=None):
    """The identity filter that --reference/--exclude photos describe, or None without them."""
    from swapface import faces

    if not references:
        if excluded:
            raise ValueError("--exclude needs --reference photos of the person to keep")
        return None
    face_settings = face_settings or faces.FaceSettings()
    return faces.IdentityFilter(
        references=faces.reference_descriptors([media.read_image(p) for p in references], references, face_settings),
        excluded=faces.reference_descriptors([media.read_image(p) for p in excluded], list(excluded), face_settings),
        threshold=faces.SAME_PERSON if threshold is None else threshold)


def run_extract(args) -> int:
    from swapface.extract import ExtractSettings, extract
    from swapface.faces import FaceSettings

    face_settings = FaceSettings(detector=args.detector, detect_width=args.detect_width, upsample=args.upsample,
                                 size=args.size)
    settings = ExtractSettings(every=args.every, face_settings=face_settings, min_face=args.min_face,
                               blur_threshold=args.blur, threshold=args.threshold)
    identity = identity_filter(args.reference, args.exclude, args.threshold, face_settings)
    report = extract(args.inputs, args.output, settings, identity, overwrite=args.overwrite)
    return _summary(report.summary(), None if report.faces_kept else
                    f"no usable face found in {len(args.inputs)} input(s)")


def run_diagnose(args) -> int:
    import json

    from swapface import diagnose, figures

    # Labels, not folder names, as keys: two folders both called "faces" would be one entry.
    described = {label: diagnose.describe(folder)
                 for label, folder in zip(diagnose.folder_labels(args.folders), args.folders)}
    output = Path(args.output)
    output.mkdir(parents=True, exist_ok=True)
    files.write_bytes_atomic(output / "diagnostics.json", json.dumps(described, indent=1).encode())
    figures.save(figures.diagnostics_figure(described), output / "diagnostics.png")
    for name, stats in described.items():
        print(diagnose.summary(name, stats))
    print(f"report: {output / 'diagnostics.json'}, {output / 'diagnostics.png'}")
    return 0


def run_demo(args) -> int:
    from swapface import convert, saving, video

    net = saving.load(args.weights)
    a, b = net.names
    side_by_side = video.VideoSettings(side_by_side=True)
    for person, other in ((a, b), (b, a)):
        report = convert.convert([args.data / person], args.output / f"{person}_to_{other}", net, other,
                                 video_settings=side_by_side, overwrite=True)
        print(f"{person} -> {other}: {report.images} before|after images in {report.output}")
    clips = sorted((args.data / "video").glob("*.mp4"))
    report = convert.convert(clips, args.output / "video", net, b, video_settings=side_by_side, overwrite=True)
    for path in report.written:
        print(f"video {a} -> {b}: {path}")
    return 0


def run_train(args) -> int:
    import dataclasses

    from tqdm.contrib.logging import logging_redirect_tqdm

    from swapface import checkpoints, devices, train
    from swapface.losses import LossSettings

    settings = train.TrainSettings(
        preset=args.preset, batch_size=args.batch_size, iterations=args.iterations,
        save_every=args.save_every, seed=args.seed, workers=args.workers,
        match_colour=args.match_colour, freeze_encoder_for=args.freeze_encoder, minutes=args.minutes,
        distribute=args.distribute, precision="mixed" if args.mixed_precision else args.precision,
        names=tuple(args.names) if args.names else None, coverage=args.coverage, learned_mask=args.learned_mask,
        loss=LossSettings(kind=args.loss, masked=args.mask_loss, eye_mouth=args.eye_mouth,
                          edges=args.edges, adversarial=args.adversarial))
    if args.recipe_2017:
        settings = dataclasses.replace(settings, **train.RECIPE_2017)
    state = checkpoints.load_state(args.model_dir)
    if state is not None:
        print(f"resuming {args.model_dir} from iteration {state['iteration']}")
    print(f"maths in {devices.choose_policy(settings.precision)} (--precision {settings.precision})")
    # The run's own news (rate, budget, resuming, growing) is worth reading: shown above the bar.
    logging.getLogger("swapface.train").setLevel(logging.INFO)
    with logging_redirect_tqdm():
        history = train.train(args.faces_a, args.faces_b, args.model_dir, settings, pretrained=args.pretrained)
    if history["a"]:
        print(f"iteration {len(history['a'])}: loss a {history['a'][-1]:.4f}, b {history['b'][-1]:.4f}; "
              f"model, preview.png and loss.png in {args.model_dir}")
    return 0


def run_convert(args) -> int:
    from swapface import alignments, convert, saving, swap, video

    net = saving.load(args.model_dir)
    to = convert.resolve_side(net, args.to, args.direction)
    identity = identity_filter(args.reference)
    settings = swap.SwapSettings(mask=args.mask, colour=args.colour, seamless=args.seamless)
    video_settings = video.VideoSettings(mark=not args.no_mark, side_by_side=args.side_by_side,
                                         smooth=0.0 if args.no_smooth else video.VideoSettings().smooth)
    known = alignments.landmarks_by_source(args.alignments) if args.alignments else None
    report = convert.convert(args.inputs, args.output, net, to, settings, video_settings, identity, args.overwrite,
                             alignments=known)
    return _summary(report.summary(), None if report.written else f"nothing converted from {len(args.inputs)} input(s)")


def run_evaluate(args) -> int:
    from swapface import report

    output = Path(args.output)
    given = [args.video, args.references]  # optional single files
    report.check_folder(output, [*args.a, *args.b, *(args.ref_a or []), *(args.ref_b or []),
                                 *(item for item in given if item)])
    # Before the work, not after it: OUTDIR a file, or another evaluate writing there, fails at once.
    with files.lock_folder(output, "swapface evaluate"):
        return evaluate_into(output, args)


def evaluate_into(output: Path, args) -> int:
    import dataclasses

    from swapface import evaluate, metrics, report, saving, swap

    net = saving.load(args.model_dir)
    settings = evaluate.EvalSettings()
    if args.video_frames:
        settings = dataclasses.replace(settings, video_frames=args.video_frames)
    refs = {"a": args.ref_a, "b": args.ref_b}
    if args.references:
        saved = metrics.load_references(args.references)
        for side, name in zip("ab", net.names):
            if refs[side] is None and name not in saved:
                raise ValueError(f"{args.references}: holds references of {', '.join(sorted(saved))}, not of {name}")
            refs[side] = refs[side] or saved[name]
    results = evaluate.evaluate(net, args.a, args.b, refs["a"], refs["b"], args.video, settings)
    frames = {"a": media.list_inputs(args.a), "b": media.list_inputs(args.b)}
    examples = {key: report.before_after(*evaluate.swap_images(net, frames[source][:report.EXAMPLES], target, settings))
                for key, (source, target) in swap.DIRECTIONS.items()}
    report.write(results, examples, output)
    print(report.summary(results))
    print(f"metrics.json and report.png in {output}")
    return 0
