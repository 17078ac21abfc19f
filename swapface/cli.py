"""The `swapface` command line: one subcommand per stage, its arguments and exit codes.

    swapface extract INPUT... -o OUTDIR [--every N] [--size 256] [--reference IMG ...]
    swapface diagnose FACES... -o OUTDIR
    swapface train FACES_A FACES_B -m MODEL_DIR [--preset original|lite|lite2x|...] [--pretrained DIR] [--minutes M] ...
    swapface convert INPUT... -m MODEL_DIR -o OUTPUT (--to NAME | --direction a2b|b2a) [--mask ...]
    swapface evaluate -m MODEL_DIR --a FRAMES_A... --b FRAMES_B... [--ref-a IMG...] [--video CLIP] -o OUTDIR
    swapface demo

Errors in the user's input end in one line naming the file and the problem and a non-zero
exit; `--debug` shows the traceback instead. Exit codes:

    0    done (files that could not be used are listed in the summary)
    1    nothing usable: no face found (extract), nothing converted (convert)
    2    an error: a bad option value (argparse), a missing or malformed input, a full disk
    130  interrupted (Ctrl-C or SIGTERM; training saves a checkpoint first, convert removes partial files)

What each subcommand then does is in `swapface.commands`.
"""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

from swapface import commands, media

log = logging.getLogger("swapface")


def _int_in(low: int, high: int | None = None):
    """An argparse type: an integer from `low` to `high`, else a usage error naming the range.

    Checked where the option is read, so `--every 0` fails in a second with the usage line,
    not after the model has loaded (or, for `--upsample 8`, when memory runs out).
    """
    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
        if value < low or (high is not None and value > high):
            raise argparse.ArgumentTypeError(f"{value} is out of range: use {low}"
                                             + (f" to {high}" if high is not None else " or more"))
        return value
    parse.__name__ = "integer"  # argparse names the type in its messages
    return parse


def _minutes(text: str) -> float:
    """An argparse type: a positive, finite number of minutes (a usage error otherwise)."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of minutes") from None
    if not 0 < value < float("inf"):
        raise argparse.ArgumentTypeError(f"{text} minutes: use a positive number")
    return value


def _extract_parser(sub) -> None:
    from swapface import faces
    from swapface.extract import ExtractSettings

    defaults = ExtractSettings().face_settings
    p = sub.add_parser("extract", help="find, align and save the faces in photos and videos",
                       description="Find every face in images, folders and videos, align it to the mean "
                                   "face and save the crops plus alignments.json to OUTDIR.")
    p.add_argument("inputs", nargs="+", metavar="INPUT", help="image files, folders of images, or videos")
    p.add_argument("-o", "--output", required=True, metavar="OUTDIR", help="folder for the aligned faces")
    p.add_argument("--every", type=_int_in(1), default=ExtractSettings().every, metavar="N",
                   help="read every Nth video frame")
    p.add_argument("--size", type=_int_in(64, 4096), default=defaults.size,
                   help="side of the aligned crops in pixels (64 to 4096)")
    p.add_argument("--min-face", type=_int_in(0), default=ExtractSettings().min_face, metavar="PX",
                   help="drop faces narrower than this in the source")
    p.add_argument("--blur", type=float, default=ExtractSettings().blur_threshold, metavar="VAR",
                   help="drop faces whose variance of the Laplacian is below this")
    p.add_argument("--detector", choices=faces.DETECTORS, default=defaults.detector)
    p.add_argument("--detect-width", type=_int_in(0), default=defaults.detect_width, metavar="PX",
                   help="detect on a copy this wide (0: full size)")
    # Each level doubles both sides: memory grows 4x per level (8 levels needed 24 GB).
    p.add_argument("--upsample", type=_int_in(0, faces.MAX_UPSAMPLE), default=defaults.upsample,
                   help=f"detector upsampling, 0 to {faces.MAX_UPSAMPLE} (finds small faces)")
    p.add_argument("--reference", nargs="+", default=[], metavar="IMG",
                   help="keep only faces of the person in these photos")
    p.add_argument("--exclude", nargs="+", default=[], metavar="IMG", help="drop faces of the person in these photos")
    p.add_argument("--threshold", type=float, default=faces.SAME_PERSON,
                   help="identity filter: largest descriptor distance to a reference")
    p.add_argument("--overwrite", action="store_true", help="replace an earlier extraction in OUTDIR")
    p.set_defaults(run=commands.run_extract)


def _diagnose_parser(sub) -> None:
    p = sub.add_parser("diagnose", help="pose, sharpness, brightness, duplicates and purity of face folders",
                       description="Describe folders written by swapface extract, side by side, so weak poses "
                                   "or a wrong person show up before training. Writes diagnostics.json and .png.")
    p.add_argument("folders", nargs="+", metavar="FACES", help="folders of aligned faces (e.g. faces/a faces/b)")
    p.add_argument("-o", "--output", required=True, metavar="OUTDIR", help="folder for the report")
    p.set_defaults(run=commands.run_diagnose)


ROOT = Path(__file__).resolve().parents[1]


def _demo_parser(sub) -> None:
    p = sub.add_parser("demo", help="swap the bundled public-domain frames and clip with the bundled weights",
                       description="Swap Obama and Trump in the frames and clip in data/, in both directions, "
                                   "with the weights in weights/; before|after images and the clip go to OUTPUT.")
    p.add_argument("--data", type=Path, default=ROOT / "data", help="the bundled data folder")
    p.add_argument("--weights", type=Path, default=ROOT / "weights", help="the bundled model")
    p.add_argument("-o", "--output", type=Path, default=Path("demo-output"), help="where results go")
    p.set_defaults(run=commands.run_demo)


def _train_parser(sub) -> None:
    from swapface.devices import PRECISIONS
    from swapface.losses import KINDS
    from swapface.model import PRESETS
    from swapface.train import MODEL_COVERAGE, TrainSettings

    defaults = TrainSettings()
    p = sub.add_parser("train", help="train the shared encoder and both decoders; rerun to resume",
                       description="Train the 2017 autoencoders on two folders of aligned faces (from "
                                   "swapface extract). Checkpoints, preview.png and loss.png go to "
                                   "MODEL_DIR; running again on the same MODEL_DIR resumes where it stopped.")
    p.add_argument("faces_a", metavar="FACES_A", help="aligned faces of person A")
    p.add_argument("faces_b", metavar="FACES_B", help="aligned faces of person B")
    p.add_argument("-m", "--model-dir", required=True, metavar="MODEL_DIR", help="folder for checkpoints")
    p.add_argument("--preset", choices=sorted(PRESETS), default=None,
                   help="model size (default: the saved one when resuming, else original)")
    p.add_argument("--batch-size", type=_int_in(1), default=defaults.batch_size, metavar="N",
                   help="faces per side per step (16 suits a CPU)")
    p.add_argument("--iterations", type=_int_in(0), default=defaults.iterations, metavar="N",
                   help="total steps to reach, resumed ones included")
    p.add_argument("--save-every", type=_int_in(1), default=defaults.save_every, metavar="N",
                   help="steps between checkpoints")
    p.add_argument("--minutes", type=_minutes, default=None, metavar="M",
                   help="stop after M minutes of training, saving a checkpoint (the rate and what M buys "
                        "are printed after a few steps); rerun to go on")
    p.add_argument("--pretrained", metavar="DIR",
                   help="start a new model from a saved one: weights/base (13 people, lite) is the quick start "
                        "for a new pair; a lite model grows into --preset lite2x")
    p.add_argument("--freeze-encoder", type=_int_in(0), default=defaults.freeze_encoder_for, metavar="N",
                   help="with --pretrained: keep the encoder frozen for the first N steps")
    p.add_argument("--distribute", action="store_true", help="tf.distribute over all GPUs (or a TF_CONFIG cluster)")
    p.add_argument("--precision", choices=PRECISIONS, default=defaults.precision,
                   help="auto: float16 maths on a GPU, float32 on a CPU; mixed: also bfloat16 on a CPU with native bf16")
    p.add_argument("--mixed-precision", action="store_true", help="same as --precision mixed")
    p.add_argument("--loss", choices=KINDS, default=defaults.loss.kind,
                   help="mae (2017) or l1+dssim (also penalises blurred structure: eyes, mouth, edges)")
    p.add_argument("--mask-loss", action=argparse.BooleanOptionalAction, default=defaults.loss.masked,
                   help="count only the face in the loss (landmarks from alignments.json)")
    p.add_argument("--eye-mouth", type=float, default=defaults.loss.eye_mouth, metavar="W",
                   help="with --mask-loss: weight of eyes and mouth relative to the rest of the face")
    p.add_argument("--edges", type=float, default=defaults.loss.edges, metavar="W",
                   help="weight of an L1 loss on pixel differences (rewards sharp edges; 0: none, as 2017)")
    p.add_argument("--adversarial", type=float, default=defaults.loss.adversarial, metavar="W",
                   help="weight of a patch discriminator's verdict (rewards plausible texture, faceswap-GAN; 0: none)")
    p.add_argument("--coverage", type=float, default=None, metavar="C",
                   help=f"share of the model's square the mean face spans (default: saved, else "
                        f"{MODEL_COVERAGE}; 2017: 1.0)")
    p.add_argument("--learned-mask", action="store_true",
                   help="new models: a fourth output channel learns the face's mask (convert --mask learned)")
    p.add_argument("--recipe-2017", action="store_true",
                   help="the 2017 recipe: MAE, no mask, coverage 1.0, float32 (overrides the four options above)")
    p.add_argument("--match-colour", action="store_true", help="2017 trick: shift A's mean colour onto B's")
    p.add_argument("--names", nargs=2, metavar=("A", "B"), help="the two people's names (default: folder names)")
    p.add_argument("--workers", type=_int_in(0, 64), default=defaults.workers, metavar="N",
                   help="augmentation processes (default: one per core but one; 0: none)")
    p.add_argument("--seed", type=int, default=defaults.seed, metavar="N")
    p.set_defaults(run=commands.run_train)


def _convert_parser(sub) -> None:
    from swapface import swap

    defaults = swap.SwapSettings()
    p = sub.add_parser("convert", help="swap the faces in photos and videos with a trained model",
                       description="Swap every face in images, folders and videos. Outputs mirror the input "
                                   "names in OUTPUT and are labelled synthetic.")
    p.add_argument("inputs", nargs="+", metavar="INPUT", help="image files, folders of images, or videos")
    p.add_argument("-m", "--model-dir", required=True, metavar="MODEL_DIR", help="a trained model (swapface train)")
    p.add_argument("-o", "--output", required=True, metavar="OUTPUT", help="folder for the results")
    who = p.add_mutually_exclusive_group(required=True)
    who.add_argument("--to", metavar="NAME", help="the person to swap to, by the name stored with the model")
    who.add_argument("--direction", choices=sorted(swap.DIRECTIONS), help="a2b: faces of A become B")
    p.add_argument("--mask", choices=swap.MASKS, default=defaults.mask,
                   help="face: the landmark hull raised over the forehead, inside the model's square")
    p.add_argument("--colour", choices=swap.COLOURS, default=defaults.colour, help="colour matching")
    p.add_argument("--color", choices=swap.COLOURS, dest="colour", help=argparse.SUPPRESS)  # the old spelling
    p.add_argument("--seamless", action="store_true", help="Poisson blending on top of the mask")
    p.add_argument("--reference", nargs="+", default=[], metavar="IMG", help="swap only faces of this person")
    p.add_argument("--alignments", metavar="FILE", help="an extraction's alignments.json (or its folder): swap "
                                                        "the faces it lists in those images, no detection")
    p.add_argument("--side-by-side", action="store_true", help="write input | output")
    p.add_argument("--no-mark", action="store_true", help="leave out the visible 'synthetic' mark "
                                                          "(the metadata label stays)")
    p.add_argument("--no-smooth", action="store_true", help="video: no temporal smoothing of landmarks")
    p.add_argument("--overwrite", action="store_true", help="replace outputs that already exist")
    p.set_defaults(run=commands.run_convert)


def _evaluate_parser(sub) -> None:
    p = sub.add_parser("evaluate", help="measure a trained model: identity, expression, pose, reconstruction, flicker",
                       description="Swap held-out frames of A to B and of B to A and measure the result; "
                                   "metrics.json and report.png go to OUTDIR. Without --ref-a (--ref-b) the "
                                   "frames of A (B) are split: even positions evaluated, odd ones the references.")
    p.add_argument("-m", "--model-dir", required=True, metavar="MODEL_DIR", help="a trained model (swapface train)")
    p.add_argument("--a", nargs="+", required=True, metavar="FRAMES_A", help="held-out frames (files or folders) of A")
    p.add_argument("--b", nargs="+", required=True, metavar="FRAMES_B", help="held-out frames (files or folders) of B")
    p.add_argument("--ref-a", nargs="+", metavar="IMG", help="reference photos of A, not among FRAMES_A")
    p.add_argument("--ref-b", nargs="+", metavar="IMG", help="reference photos of B, not among FRAMES_B")
    p.add_argument("--references", metavar="FILE",
                   help="saved reference descriptors of both people (.npz, e.g. data/references.npz: the demo's "
                        "training footage); --ref-a / --ref-b replace one side's")
    p.add_argument("--video", metavar="CLIP", help="a clip of A, swapped to B for the flicker ratio")
    p.add_argument("--video-frames", type=_int_in(2), metavar="N", help="frames of the clip to check (default: 90)")
    p.add_argument("-o", "--output", required=True, metavar="OUTDIR", help="folder for metrics.json and report.png")
    p.set_defaults(run=commands.run_evaluate)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="swapface", description="The original deepfakes face swap, explained.")
    parser.add_argument("--debug", action="store_true", help="show tracebacks and debug logs")
    sub = parser.add_subparsers(dest="command", required=True)
    _extract_parser(sub)
    _diagnose_parser(sub)
    _train_parser(sub)
    _convert_parser(sub)
    _evaluate_parser(sub)
    _demo_parser(sub)
    return parser


def _one_line(err: Exception) -> str:
    """'<file>: <problem>' for OS errors (full disk, no permission), the message otherwise."""
    if isinstance(err, OSError) and not isinstance(err, media.MediaError) and err.strerror:
        where = err.filename2 or err.filename
        return f"{where}: {err.strerror}" if where else err.strerror
    return " ".join(str(err).split())


def main(argv: list[str] | None = None) -> int:
    if "--debug" not in (sys.argv[1:] if argv is None else argv):
        from swapface import quiet

        quiet.import_keras()  # before the parsers import it: TensorFlow's C++ start-up lines silenced
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.DEBUG if args.debug else logging.WARNING,
                        format="%(levelname)s %(name)s: %(message)s")
    try:
        # SIGTERM stops a command as Ctrl-C does: a partial video is removed, a checkpoint saved.
        with media.sigterm_as_interrupt():
            return args.run(args)
    except (media.MediaError, ValueError, OSError) as err:
        if args.debug:
            raise
        print(f"error: {_one_line(err)}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
