"""The `swapface` command line: one subcommand per stage.

    swapface extract INPUT... -o OUTDIR [--every N] [--size 256] [--reference IMG ...]

Errors in the user's input end in one line naming the file and the problem and a non-zero
exit; `--debug` shows the traceback instead.
"""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

from swapface import media

log = logging.getLogger("swapface")


def _extract_parser(sub) -> None:
    from swapface.extract import ExtractSettings

    defaults = ExtractSettings()
    p = sub.add_parser("extract", help="find, align and save the faces in photos and videos",
                       description="Find every face in images, folders and videos, align it to the mean "
                                   "face and save the crops plus alignments.json to OUTDIR.")
    p.add_argument("inputs", nargs="+", metavar="INPUT", help="image files, folders of images, or videos")
    p.add_argument("-o", "--output", required=True, metavar="OUTDIR", help="folder for the aligned faces")
    p.add_argument("--every", type=int, default=defaults.every, metavar="N", help="read every Nth video frame")
    p.add_argument("--size", type=int, default=defaults.size, help="side of the aligned crops in pixels")
    p.add_argument("--min-face", type=int, default=defaults.min_face, metavar="PX",
                   help="drop faces narrower than this in the source")
    p.add_argument("--blur", type=float, default=defaults.blur_threshold, metavar="VAR",
                   help="drop faces whose variance of the Laplacian is below this")
    p.add_argument("--detector", choices=["hog", "cnn"], default=defaults.detector)
    p.add_argument("--detect-width", type=int, default=defaults.detect_width, metavar="PX",
                   help="detect on a copy this wide (0: full size)")
    p.add_argument("--upsample", type=int, default=defaults.upsample, help="detector upsampling (finds small faces)")
    p.add_argument("--reference", nargs="+", default=[], metavar="IMG",
                   help="keep only faces of the person in these photos")
    p.add_argument("--exclude", nargs="+", default=[], metavar="IMG", help="drop faces of the person in these photos")
    p.add_argument("--threshold", type=float, default=defaults.threshold,
                   help="identity filter: largest descriptor distance to a reference")
    p.set_defaults(run=_run_extract)


def _run_extract(args) -> int:
    from swapface import faces
    from swapface.extract import ExtractSettings, extract

    settings = ExtractSettings(every=args.every, size=args.size, min_face=args.min_face,
                               blur_threshold=args.blur, detector=args.detector,
                               detect_width=args.detect_width, upsample=args.upsample,
                               threshold=args.threshold)
    identity = None
    if args.reference:
        refs = [media.read_image(p) for p in args.reference]
        excl = [media.read_image(p) for p in args.exclude]
        identity = faces.IdentityFilter(
            references=faces.reference_descriptors(refs, args.reference, settings.face_settings),
            excluded=faces.reference_descriptors(excl, args.exclude, settings.face_settings),
            threshold=args.threshold)
    elif args.exclude:
        raise ValueError("--exclude needs --reference photos of the person to keep")
    report = extract(args.inputs, args.output, settings, identity)
    print(report.summary())
    if report.faces_kept == 0:
        print(f"error: no usable face found in {len(args.inputs)} input(s)", file=sys.stderr)
        return 1
    return 0


def _demo_parser(sub) -> None:
    p = sub.add_parser("demo", help="run the pipeline on the bundled public-domain data",
                       description="Extract the aligned faces of the bundled frames of each person in data/.")
    p.add_argument("--data", type=Path, default=Path(__file__).resolve().parents[1] / "data",
                   help="the bundled data folder")
    p.add_argument("-o", "--output", type=Path, default=Path("demo-output"), help="where results go")
    p.set_defaults(run=_run_demo)


def _run_demo(args) -> int:
    from swapface.extract import extract

    for person in ("obama", "trump"):
        report = extract([args.data / person], args.output / "faces" / person)
        print(f"{person}: {report.faces_kept} aligned faces in {report.output}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="swapface", description="The original deepfakes face swap, explained.")
    parser.add_argument("--debug", action="store_true", help="show tracebacks and debug logs")
    sub = parser.add_subparsers(dest="command", required=True)
    _extract_parser(sub)
    _demo_parser(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.DEBUG if args.debug else logging.WARNING,
                        format="%(levelname)s %(name)s: %(message)s")
    try:
        return args.run(args)
    except (media.MediaError, ValueError, FileNotFoundError, OSError) as err:
        if args.debug:
            raise
        print(f"error: {err}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
