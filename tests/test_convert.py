"""The convert job: one output per input, true summaries, and a failed video is a failure."""

import shutil

import cv2
import numpy as np
import pytest

from swapface import alignments, cli, convert, files, media, model, provenance, saving, video


@pytest.fixture(scope="module")
def tiny_dir(tmp_path_factory):
    folder = tmp_path_factory.mktemp("tiny")
    saving.save(model.build("tiny"), folder, names=("obama", "trump"))
    return folder


@pytest.fixture(scope="module")
def tiny(tiny_dir):
    """The tiny model with its people's names, as convert loads it."""
    return saving.load(tiny_dir)


def test_a_folder_is_mirrored_and_existing_outputs_kept(tiny, data_dir, tmp_path):
    report = convert.convert([data_dir / "trump"], tmp_path, tiny, "obama", progress=False)
    names = sorted(p.name for p in (data_dir / "trump").glob("*.jpg"))
    assert sorted(p.name for p in tmp_path.glob("*.jpg")) == names and report.images == len(names)
    assert provenance.read_label(tmp_path / names[0]) == provenance.LABEL
    again = convert.convert([data_dir / "trump"], tmp_path, tiny, "obama", progress=False)
    assert again.images == 0 and len(again.skipped) == len(names) and "exists" in again.skipped[0][1]
    with pytest.raises(ValueError, match="overwrite an input"):
        convert.convert([data_dir / "trump"], data_dir / "trump", tiny, "obama", progress=False)


def test_a_job_report_keeps_each_videos_own_report(tmp_path):
    clip = video.VideoReport(tmp_path / "clip.mkv", tmp_path / "out" / "clip.mp4", frames=8, faces=7, seconds=1.0,
                             fps=25.0, audio=True, notes=["padded 641x479 to 642x480"])
    report = convert.ConvertReport(tmp_path / "out", images=1, image_faces=2, videos=[clip],
                                   notes=[("photo.gif", "only the first of its 3 frames or pages converted")])
    assert report.faces == 9  # the images' and the video's, counted once
    lines = report.summary().splitlines()
    assert lines[0] == f"converted 1 images and 1 videos (9 faces) into {tmp_path / 'out'}"
    assert lines[1:] == ["note photo.gif: only the first of its 3 frames or pages converted",
                         f"note {tmp_path / 'clip.mkv'}: padded 641x479 to 642x480"]


def test_side_is_chosen_by_name_or_direction(tiny):
    assert convert.resolve_side(tiny, to="trump") == "b"
    assert convert.resolve_side(tiny, direction="b2a") == "a"
    with pytest.raises(ValueError, match="obama or trump"):
        convert.resolve_side(tiny)


def test_photos_and_video_frames_are_finished_alike(frame):
    swapped = 255 - frame
    both = video.finish(frame, swapped, video.VideoSettings(side_by_side=True, mark=False))
    assert np.array_equal(both, np.hstack([frame, swapped]))  # input | output
    marked = video.finish(frame, swapped)  # the defaults: the output alone, marked
    changed = np.argwhere(np.any(marked != swapped, axis=2))
    assert len(changed) and changed.min(axis=0).tolist() > [frame.shape[0] * 0.8, frame.shape[1] * 0.8]  # a corner only


def test_inputs_with_the_same_name_each_get_their_own_output(data_dir, tiny_dir, tmp_path, capsys):
    frames = sorted((data_dir / "obama").glob("*.jpg"))
    for folder, frame in (("a", frames[0]), ("b", frames[1])):
        (tmp_path / folder).mkdir()
        shutil.copy(frame, tmp_path / folder / "frame.jpg")
    (tmp_path / "c").mkdir()
    image = media.read_image(frames[2])
    cv2.imwrite(str(tmp_path / "c" / "photo.bmp"), image)
    cv2.imwrite(str(tmp_path / "c" / "photo.webp"), image, [cv2.IMWRITE_WEBP_QUALITY, 101])
    out = tmp_path / "out"
    inputs = [str(tmp_path / name) for name in ("a", "b", "c")]
    for _ in range(2):  # and again with --overwrite: still four
        assert cli.main(["convert", *inputs, "-m", str(tiny_dir), "-o", str(out), "--to", "trump",
                         "--overwrite"]) == 0
        summary = capsys.readouterr().out
        written = sorted(p.name for p in out.iterdir())
        assert written == ["frame-2.jpg", "frame.jpg", "photo-2.png", "photo.png"]
        assert "converted 4 images and 0 videos" in summary
        assert "written as frame-2.jpg: another input has its name" in summary
    # Each output is its own input swapped: the two frames differ outside the face too.
    first, second = (media.read_image(out / name) for name in ("frame.jpg", "frame-2.jpg"))
    assert np.abs(first.astype(float) - second).mean() > 5
    assert all(provenance.read_label(out / name) for name in written)


def test_a_video_that_cannot_be_written_fails_the_command(data_dir, tiny_dir, tmp_path, capsys, small_disk):
    with small_disk(64 * 1024):
        code = cli.main(["convert", str(data_dir / "video" / "obama_silent_b.mp4"), "-m", str(tiny_dir),
                         "-o", str(tmp_path / "out"), "--to", "trump"])
    err = capsys.readouterr().err
    errors = [line for line in err.splitlines() if line.startswith("error")]  # the rest is the progress bar
    assert code == 2 and len(errors) == 1 and "could not write the video: File too large" in errors[0]
    assert "Traceback" not in err
    assert list((tmp_path / "out").iterdir()) == []


def test_convert_reuses_an_extraction_instead_of_detecting(data_dir, tmp_path, monkeypatch):
    """`--alignments`: the faces an extraction recorded are swapped; the detector is never run."""
    from swapface import extract, faces, model, saving

    net = model.build("tiny")
    net = model.FaceSwapModel(net.settings, net.encoder, net.decoder_a, net.decoder_b, net.autoencoder_a,
                              net.autoencoder_b, names=("obama", "trump"))
    saving.save(net, tmp_path / "model")
    image = data_dir / "obama" / "c000_f00000.jpg"
    extract.extract([image], tmp_path / "faces", progress=False)
    known = alignments.landmarks_by_source(tmp_path / "faces" / "alignments.json")
    assert list(known) == [image.resolve()] and known[image.resolve()][0].shape == (68, 2)

    def no_detection(*args, **kwargs):
        raise AssertionError("detected again")

    monkeypatch.setattr(faces, "find_faces", no_detection)
    from swapface import cli

    assert cli.main(["convert", str(image), "-m", str(tmp_path / "model"), "--to", "trump",
                     "-o", str(tmp_path / "out"), "--alignments", str(tmp_path / "faces")]) == 0
    out = tmp_path / "out" / image.name
    assert out.is_file() and not np.array_equal(media.read_image(out), media.read_image(image))


def test_converted_image_is_cut_at_the_models_coverage(data_dir, tmp_path):
    """A model trained at coverage 0.8 is fed 0.8 crops by convert, as by swap_frames."""
    import dataclasses

    from swapface import swap

    net = model.build("tiny")
    net = dataclasses.replace(net, settings=dataclasses.replace(net.settings, coverage=0.8), names=("obama", "trump"))
    image = data_dir / "obama" / "c000_f00000.jpg"
    convert.convert([image], tmp_path / "out", net, "b", video_settings=dataclasses.replace(
        convert.video.VideoSettings(), mark=False), progress=False)
    expected = swap.swap_frames([media.read_image(image)], net, "b")[0]
    written = media.read_image(tmp_path / "out" / image.name)
    assert np.abs(written.astype(int) - expected).mean() < 2  # JPEG noise only


def test_a_second_convert_into_a_folder_in_use_is_refused(data_dir, tiny_dir, tmp_path, capsys):
    out = tmp_path / "out"
    with files.lock_folder(out, "swapface convert"):  # as a running conversion holds it
        code = cli.main(["convert", str(data_dir / "obama"), "-m", str(tiny_dir), "-o", str(out), "--to", "trump"])
        assert code == 2 and "another `swapface convert` is using this folder" in capsys.readouterr().err
        assert list(out.iterdir()) == [out / ".lock"]  # nothing of the refused run's
    assert cli.main(["convert", str(data_dir / "obama"), "-m", str(tiny_dir), "-o", str(out), "--to", "trump"]) == 0
    assert not (out / ".lock").exists()  # a finished run leaves no lock file behind


def test_names_near_the_system_limit_are_converted_or_skipped_not_fatal(data_dir, tiny_dir, tmp_path, capsys):
    frames = sorted((data_dir / "obama").glob("*.jpg"))
    long = "v" * 250 + ".jpg"  # 254 bytes: fits, but not with '-2' added for a second input of that name
    for folder, frame in (("a", frames[0]), ("b", frames[1])):
        (tmp_path / folder).mkdir()
        shutil.copy(frame, tmp_path / folder / long)
    shutil.copy(frames[2], tmp_path / "b" / "after.jpg")
    shutil.copy(data_dir / "video" / "obama_silent_b.mp4", tmp_path / "b" / ("w" * 250 + ".mp4"))
    out = tmp_path / "out"
    code = cli.main(["convert", str(tmp_path / "a"), str(tmp_path / "b"), "-m", str(tiny_dir), "-o", str(out),
                     "--to", "trump"])
    summary = capsys.readouterr().out
    assert code == 0 and "converted 2 images and 1 videos" in summary
    assert sorted(p.name for p in out.iterdir()) == sorted([long, "after.jpg", "w" * 250 + ".mp4"])
    assert f"skipped {tmp_path / 'b' / long}: output name too long (256 bytes" in summary


def test_sigterm_during_a_video_leaves_no_partial_file(data_dir, tiny_dir, tmp_path):
    import subprocess
    import sys

    script = ("import os, signal, sys\n"
              "from swapface import cli, swap\n"
              "real = swap.swap_frames\n"
              "def terminated(*args, **kwargs):  # as `kill` arrives mid-video\n"
              "    os.kill(os.getpid(), signal.SIGTERM)\n"
              "    return real(*args, **kwargs)\n"
              "swap.swap_frames = terminated\n"
              "sys.exit(cli.main(sys.argv[1:]))\n")
    out = tmp_path / "out"
    done = subprocess.run([sys.executable, "-c", script, "convert", str(data_dir / "video" / "obama_silent_b.mp4"),
                           "-m", str(tiny_dir), "-o", str(out), "--to", "trump"], capture_output=True, text=True)
    assert done.returncode == 130 and "interrupted" in done.stderr
    assert list(out.iterdir()) == []  # neither the video nor a hidden partial file (nor the lock)


@pytest.fixture
def extraction(data_dir, tmp_path):
    """(an Obama frame, an extraction of it) for `--alignments` to be edited."""
    from swapface import extract

    image = data_dir / "obama" / "c000_f00000.jpg"
    extract.extract([image], tmp_path / "faces", progress=False)  # sources are recorded relative to the folder
    return image, tmp_path / "faces"


@pytest.mark.parametrize("edit, code, message", [
    (lambda p: np.full_like(p, np.nan), 2, "face record 0 (c000_f00000_0.jpg): landmarks are not finite"),
    (lambda p: np.full_like(p, 300.0), 2, "face record 0 (c000_f00000_0.jpg): landmarks are degenerate"),
    (lambda p: p * 1e30, 2, "beyond any image"),
    (lambda p: p * 3, 1, "c000_f00000.jpg: alignments: landmarks lie outside the 854x480 image"),
], ids=["nan", "one point", "huge", "another resolution"])
def test_bad_alignments_are_refused_naming_the_record(extraction, tiny_dir, tmp_path, capsys, edit, code, message):
    import json

    image, folder = extraction
    document = json.loads((folder / "alignments.json").read_text())
    record = document["faces"][0]
    record["landmarks"] = edit(np.array(record["landmarks"])).tolist()
    (folder / "alignments.json").write_text(json.dumps(document))  # NaN as JSON's NaN, as Python writes it
    result = cli.main(["convert", str(image), "-m", str(tiny_dir), "--to", "trump", "-o", str(tmp_path / "out"),
                       "--alignments", str(folder)])
    out = capsys.readouterr()
    assert result == code and message in out.out + out.err and "Traceback" not in out.err
    assert not list((tmp_path / "out").glob("*.jpg"))  # never "converted" with no face changed


def test_frames_after_the_first_are_named_not_dropped_silently(data_dir, tiny_dir, tmp_path, capsys):
    from PIL import Image

    frames = [Image.open(path).convert("RGB") for path in sorted((data_dir / "obama").glob("*.jpg"))[:3]]
    (tmp_path / "in").mkdir()
    frames[0].save(tmp_path / "in" / "moving.webp", save_all=True, append_images=frames[1:], duration=100)
    frames[0].save(tmp_path / "in" / "pages.tiff", save_all=True, append_images=frames[1:2])
    assert cli.main(["convert", str(tmp_path / "in"), "-m", str(tiny_dir), "-o", str(tmp_path / "out"),
                     "--to", "trump"]) == 0
    summary = capsys.readouterr().out
    assert f"note {tmp_path / 'in' / 'moving.webp'}: only the first of its 3 frames or pages converted" in summary
    assert f"note {tmp_path / 'in' / 'pages.tiff'}: only the first of its 2 frames or pages converted" in summary
