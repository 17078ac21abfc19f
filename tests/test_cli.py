"""The command line refuses impossible numbers at once, with argparse's usage error."""

import pytest

from swapface import cli
from swapface import model as sm


@pytest.mark.parametrize("argv, option", [
    (["extract", "x.jpg", "-o", "out", "--every", "0"], "--every"),
    (["extract", "x.jpg", "-o", "out", "--detect-width", "-1"], "--detect-width"),
    (["extract", "x.jpg", "-o", "out", "--upsample", "-1"], "--upsample"),
    (["extract", "x.jpg", "-o", "out", "--upsample", "8"], "--upsample"),  # 24 GB of detector pyramid
    (["extract", "x.jpg", "-o", "out", "--size", "7"], "--size"),
    (["extract", "x.jpg", "-o", "out", "--every", "two"], "--every"),
    (["train", "a", "b", "-m", "m", "--save-every", "0"], "--save-every"),
    (["train", "a", "b", "-m", "m", "--batch-size", "0"], "--batch-size"),
    (["train", "a", "b", "-m", "m", "--workers", "-2"], "--workers"),
    (["train", "a", "b", "-m", "m", "--iterations", "-5"], "--iterations"),
    (["evaluate", "-m", "m", "--a", "a", "--b", "b", "-o", "o", "--video-frames", "0"], "--video-frames"),
])
def test_numeric_options_out_of_range_are_usage_errors(argv, option, capsys, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # nothing may be written, but if it were, not into the project
    with pytest.raises(SystemExit) as info:
        cli.main(argv)
    err = capsys.readouterr().err
    assert info.value.code == 2 and "usage: swapface" in err
    assert f"argument {option}" in err and ("out of range" in err or "not a whole number" in err)
    assert list(tmp_path.iterdir()) == []


def test_numbers_in_range_still_parse():
    args = cli.build_parser().parse_args(["extract", "x.jpg", "-o", "out", "--every", "5", "--upsample", "2",
                                          "--size", "128", "--detect-width", "0"])
    assert (args.every, args.upsample, args.size, args.detect_width) == (5, 2, 128, 0)
    args = cli.build_parser().parse_args(["train", "a", "b", "-m", "m", "--workers", "0", "--batch-size", "1"])
    assert (args.workers, args.batch_size) == (0, 1)


def test_cli_train_arguments():
    args = cli.build_parser().parse_args(["train", "a", "b", "-m", "m", "--preset", "tiny", "--names", "x", "y",
                                          "--freeze-encoder", "5", "--pretrained", "p", "--distribute"])
    assert (args.preset, args.names, args.freeze_encoder, args.pretrained, args.distribute) == \
        ("tiny", ["x", "y"], 5, "p", True)
    choices = next(a.choices for a in cli.build_parser()._subparsers._group_actions[0].choices["train"]._actions
                   if a.dest == "preset")
    assert sorted(choices) == sorted(sm.PRESETS)


def test_colour_is_spelled_one_way_and_the_old_flag_still_works(capsys):
    convert = ["convert", "x.jpg", "-m", "m", "-o", "out", "--to", "b"]
    assert cli.build_parser().parse_args(convert).colour == "lab"  # the default
    assert cli.build_parser().parse_args([*convert, "--colour", "avg"]).colour == "avg"
    assert cli.build_parser().parse_args([*convert, "--color", "none"]).colour == "none"  # the 2017 spelling, hidden
    with pytest.raises(SystemExit):
        cli.build_parser().parse_args(["convert", "--help"])
    shown = capsys.readouterr().out
    assert "--colour" in shown and "--color " not in shown
