"""Extraction from folders and videos, with broken files mixed in, and the CLI around it."""

import errno
import json
import os
import shutil

import cv2
import numpy as np
import pytest

from swapface import alignments, cli, extract, faces, files, geometry, media, videoio


@pytest.fixture(scope="module")
def messy_folder(tmp_path_factory, obama_frame):
    """Good photos in every odd format next to broken files, as a scraped folder looks."""
    folder = tmp_path_factory.mktemp("messy")
    good = media.read_image(obama_frame)
    raw = obama_frame.read_bytes()
    shutil.copy(obama_frame, folder / "plain.jpg")
    cv2.imwrite(str(folder / "gray.png"), cv2.cvtColor(good, cv2.COLOR_BGR2GRAY))
    cv2.imwrite(str(folder / "rgba.png"), np.dstack([good, np.full(good.shape[:2], 255, np.uint8)]))
    cv2.imwrite(str(folder / "deep16.png"), good.astype(np.uint16) * 257)
    big = np.zeros((4000, 6000, 3), np.uint8)
    big[320:320 + 3360, 11:11 + 5978] = cv2.resize(good, (5978, 3360), interpolation=cv2.INTER_CUBIC)
    cv2.imwrite(str(folder / "huge.jpg"), big, [cv2.IMWRITE_JPEG_QUALITY, 80])
    (folder / "empty.jpg").write_bytes(b"")
    (folder / "truncated.jpg").write_bytes(raw[: len(raw) // 2])
    (folder / "notes.jpg").write_text("this is not a picture\n")
    (folder / "readme.txt").write_text("ignored: not an image suffix\n")
    return folder


def test_read_image_explains_each_bad_file(messy_folder):
    reasons = {}
    for name in ("empty.jpg", "truncated.jpg", "notes.jpg", "missing.jpg"):
        with pytest.raises(media.MediaError) as info:
            media.read_image(messy_folder / name)
        assert str(info.value).startswith(str(messy_folder / name))
        reasons[name] = info.value.reason
    assert "empty" in reasons["empty.jpg"]
    assert "truncated" in reasons["truncated.jpg"]
    assert "not a readable image" in reasons["notes.jpg"]
    assert "no such file" in reasons["missing.jpg"]


@pytest.mark.parametrize("name", ["gray.png", "rgba.png", "deep16.png", "huge.jpg"])
def test_odd_formats_become_uint8_bgr(messy_folder, name):
    image = media.read_image(messy_folder / name)
    assert image.dtype == np.uint8 and image.ndim == 3 and image.shape[2] == 3


def test_messy_folder_yields_every_good_face_and_one_line_per_bad_file(messy_folder, tmp_path):
    before = {p.name: p.read_bytes() for p in messy_folder.iterdir()}
    report = extract.extract([messy_folder], tmp_path / "out", progress=False)
    assert report.files_read == 5 and report.faces_kept == 5
    assert sorted(name.split("/")[-1] for name, _ in report.skipped) == ["empty.jpg", "notes.jpg", "truncated.jpg"]
    written = sorted(p.name for p in (tmp_path / "out").glob("*.jpg"))
    assert written == ["deep16_0.jpg", "gray_0.jpg", "huge_0.jpg", "plain_0.jpg", "rgba_0.jpg"]
    # The same face, whatever the file format: the crops agree.
    plain = media.read_image(tmp_path / "out" / "plain_0.jpg").astype(float)
    huge = media.read_image(tmp_path / "out" / "huge_0.jpg").astype(float)
    assert np.abs(plain - huge).mean() < 12
    assert {p.name: p.read_bytes() for p in messy_folder.iterdir()} == before  # inputs untouched


def test_alignments_file_reproduces_the_crops(data_dir, tmp_path):
    report = extract.extract([data_dir / "obama"], tmp_path, progress=False)
    assert report.faces_kept == 8 and not report.skipped
    document = alignments.read(tmp_path)
    assert document["size"] == 256 and len(document["faces"]) == 8
    record = document["faces"][0]
    assert record["landmarks"].shape == (68, 2) and record["matrix"].shape == (2, 3)
    source = media.read_image(record["source"])
    again = geometry.align(source, record["matrix"], 256)
    saved = media.read_image(tmp_path / record["file"])
    assert np.abs(again.astype(float) - saved).mean() < 3  # only JPEG loss between them


def test_video_every_nth_frame_streams_with_frame_numbers(data_dir, tmp_path):
    clip = data_dir / "video" / "obama_silent_b.mp4"
    info = videoio.video_info(clip)
    report = extract.extract([clip], tmp_path, extract.ExtractSettings(every=10), progress=False)
    assert report.frames_read == -(-info.frames // 10)
    frames = [r["frame"] for r in json.loads((tmp_path / "alignments.json").read_text())["faces"]]
    assert frames and all(f % 10 == 0 for f in frames)
    assert report.faces_kept >= 0.9 * report.frames_read


def test_filters_drop_small_and_blurry_faces(obama_frame, tmp_path):
    image = media.read_image(obama_frame)
    src = tmp_path / "src"
    src.mkdir()
    media.write_image(src / "sharp.png", image)
    media.write_image(src / "blurred.png", cv2.GaussianBlur(image, (0, 0), 6))
    media.write_image(src / "small.png", cv2.resize(image, None, fx=0.2, fy=0.2, interpolation=cv2.INTER_AREA))
    settings = extract.ExtractSettings(min_face=60, face_settings=faces.FaceSettings(upsample=1))
    report = extract.extract([src], tmp_path / "out", settings, progress=False)
    assert report.faces_kept == 1 and report.rejected == {"blurry": 1, "too small": 1}
    assert (tmp_path / "out" / "sharp_0.jpg").exists()


def test_identity_filter_keeps_only_the_reference_person(data_dir, tmp_path):
    refs = sorted((data_dir / "obama").glob("*.jpg"))[:2]
    identity = faces.IdentityFilter(faces.reference_descriptors([media.read_image(p) for p in refs], refs))
    report = extract.extract([data_dir / "trump", data_dir / "obama"], tmp_path, identity=identity, progress=False)
    assert report.faces_kept == 8 and report.rejected["other identity"] >= 6
    assert len(list(tmp_path.glob("*.jpg"))) == 8 and not list(tmp_path.glob("c006_*"))


def test_output_folder_may_not_be_an_input_folder(data_dir):
    with pytest.raises(ValueError, match="holds inputs"):
        extract.extract([data_dir / "obama"], data_dir / "obama", progress=False)


def test_an_earlier_extraction_is_kept_unless_overwrite(obama_frame, tmp_path, capsys):
    assert cli.main(["extract", str(obama_frame), "-o", str(tmp_path)]) == 0
    first = (tmp_path / "alignments.json").read_bytes()
    assert cli.main(["extract", str(obama_frame), "-o", str(tmp_path)]) == 2
    assert "already holds extracted faces" in capsys.readouterr().err
    assert (tmp_path / "alignments.json").read_bytes() == first
    assert cli.main(["extract", str(obama_frame), "-o", str(tmp_path), "--overwrite"]) == 0


def test_cli_summary_and_exit_codes(messy_folder, tmp_path, capsys):
    assert cli.main(["extract", str(messy_folder), "-o", str(tmp_path / "out")]) == 0
    out = capsys.readouterr().out
    assert "faces found: 5, kept: 5" in out
    for bad in ("empty.jpg", "truncated.jpg", "notes.jpg"):
        assert sum(bad in line for line in out.splitlines()) == 1

    faceless = tmp_path / "faceless"
    faceless.mkdir()
    media.write_image(faceless / "wall.png", np.full((300, 300, 3), 90, np.uint8))
    assert cli.main(["extract", str(faceless), "-o", str(tmp_path / "none")]) == 1
    assert "no usable face" in capsys.readouterr().err

    assert cli.main(["extract", str(tmp_path / "nowhere"), "-o", str(tmp_path / "x")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "nowhere: no such file or folder" in err[0]


def test_same_file_names_from_two_inputs_each_get_their_crops(data_dir, tmp_path):
    obama, trump = data_dir / "obama" / "c000_f00000.jpg", data_dir / "trump" / "c006_f00070.jpg"
    for folder, frame in (("a", obama), ("b", trump)):
        (tmp_path / folder).mkdir()
        shutil.copy(frame, tmp_path / folder / "frame.jpg")
    (tmp_path / "c").mkdir()
    image = media.read_image(obama)
    cv2.imwrite(str(tmp_path / "c" / "photo.bmp"), image)
    cv2.imwrite(str(tmp_path / "c" / "photo.webp"), image, [cv2.IMWRITE_WEBP_QUALITY, 101])
    out = tmp_path / "out"
    report = extract.extract([tmp_path / "a", tmp_path / "b", tmp_path / "c"], out, progress=False)
    document = alignments.read(out)
    crops = sorted(p.name for p in out.glob("*.jpg"))
    assert report.faces_kept == len(crops) == len(document["faces"]) == 4
    assert crops == sorted(record["file"] for record in document["faces"])
    for record in document["faces"]:  # each crop is the face of the source its record names
        again = geometry.align(media.read_image(record["source"]), record["matrix"], 256)
        assert np.abs(again.astype(float) - media.read_image(out / record["file"])).mean() < 3


@pytest.mark.parametrize("full_from", [5, 6])
def test_full_disk_keeps_every_crop_on_disk_described(data_dir, tmp_path, monkeypatch, full_from):
    real_replace = files.os.replace
    calls = {"n": 0}

    # Crops 1 and 2 and alignments.json after each fit; then nothing does (5), or crop 3 does
    # but its record never gets to disk (6).
    def full_from_the_fifth(src, dst):
        calls["n"] += 1
        if calls["n"] >= full_from:
            raise OSError(errno.ENOSPC, "No space left on device")
        return real_replace(src, dst)

    monkeypatch.setattr(files.os, "replace", full_from_the_fifth)
    with pytest.raises(OSError, match="No space left"):
        extract.extract([data_dir / "obama"], tmp_path, progress=False)
    monkeypatch.undo()
    crops = sorted(p.name for p in tmp_path.glob("*.jpg"))
    records = sorted(r["file"] for r in alignments.read(tmp_path)["faces"])
    assert crops and crops == records  # no crop without its record, no record without its crop
    assert not list(tmp_path.glob(".*tmp*"))


def test_overwrite_replaces_the_whole_earlier_extraction(data_dir, tmp_path):
    extract.extract([data_dir / "trump"], tmp_path, progress=False)
    assert len(list(tmp_path.glob("*.jpg"))) == 8
    report = extract.extract([data_dir / "obama" / "c000_f00000.jpg"], tmp_path, progress=False, overwrite=True)
    crops = sorted(p.name for p in tmp_path.glob("*.jpg"))
    assert report.faces_kept == 1 and crops == ["c000_f00000_0.jpg"]  # no trump face left for training
    assert [r["file"] for r in alignments.read(tmp_path)["faces"]] == crops


def test_a_second_extract_into_a_busy_folder_is_refused(obama_frame, tmp_path, capsys):
    with files.lock_folder(tmp_path, "swapface extract"):  # as a running extraction holds it
        with pytest.raises(ValueError, match="another `swapface extract` is using this folder"):
            extract.extract([obama_frame], tmp_path, progress=False)
        assert cli.main(["extract", str(obama_frame), "-o", str(tmp_path)]) == 2
        assert "another `swapface extract`" in capsys.readouterr().err
        assert not (tmp_path / "alignments.json").exists()
    assert extract.extract([obama_frame], tmp_path, progress=False).faces_kept == 1  # free again


def test_extract_settings_refuse_impossible_values():
    with pytest.raises(ValueError):
        extract.ExtractSettings(every=0)
    for bad in ({"upsample": 9}, {"detect_width": -1}, {"upsample": -1}):
        with pytest.raises(ValueError):
            faces.FaceSettings(**bad)


def test_a_name_near_the_system_limit_is_extracted(obama_frame, tmp_path):
    source = tmp_path / "in" / ("é" * 125 + ".jpg")  # 254 bytes: crop names and temporary names must be shorter
    source.parent.mkdir()
    shutil.copy(obama_frame, source)
    report = extract.extract([source], tmp_path / "faces", progress=False)
    assert report.faces_kept == 1 and not report.skipped
    crop = [p for p in (tmp_path / "faces").iterdir() if p.suffix == ".jpg"][0]
    assert len(os.fsencode(crop.name)) <= 255 and crop.name.startswith("é" * 100)
    assert alignments.read(tmp_path / "faces")["faces"][0]["file"] == crop.name
