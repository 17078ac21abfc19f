"""Bad input never crashes: random bytes, odd shapes and dtypes, full disks, unwritable outputs."""

import errno
import json
import os
import re
import shutil
import threading
from pathlib import Path

import cv2
import numpy as np
import pytest

from swapface import alignments, cli, extract, faces, files, geometry, media, model, provenance, saving, swap


def test_random_bytes_are_clean_media_errors(tmp_path):
    rng = np.random.default_rng(7)
    headers = [b"", b"\xff\xd8\xff\xe0", b"\x89PNG\r\n\x1a\n", b"GIF89a", b"BM", b"RIFF\0\0\0\0WEBP"]
    for index in range(60):
        data = headers[index % len(headers)] + rng.bytes(int(rng.integers(0, 4000)))
        try:
            image = media.decode_image(data, f"fuzz{index}")
        except media.MediaError as err:
            assert str(err).startswith(f"fuzz{index}: ")
        else:  # a few random byte strings are valid images: then they must be proper ones
            assert image.dtype == np.uint8 and image.ndim == 3 and image.shape[2] == 3


@pytest.mark.parametrize("image", [
    np.zeros((1, 1), np.uint8),
    np.zeros((1, 1, 3), np.uint8),
    np.full((40, 30), 65535, np.uint16),
    np.zeros((50, 50, 4), np.uint8),
    np.random.default_rng(1).uniform(0, 1, (64, 64, 3)).astype(np.float32),
    np.zeros((3000, 4500, 3), np.uint8),
], ids=["1x1 gray", "1x1 bgr", "16-bit gray", "rgba", "float", "large blank"])
def test_odd_images_through_loader_and_swap(image, tiny, tmp_path):
    bgr = media.to_bgr8(image)
    assert bgr.dtype == np.uint8 and bgr.shape[:2] == image.shape[:2] and bgr.shape[2] == 3
    ok, encoded = cv2.imencode(".png", image if image.dtype != np.float32 else bgr)
    assert ok and media.decode_image(encoded.tobytes(), "odd.png").shape == bgr.shape
    out = swap.swap_frames([bgr], tiny, "a")[0]  # no face: returned unchanged, no crash
    assert np.array_equal(out, bgr)


def test_swap_on_a_face_at_every_edge_and_scale(tiny, obama_frame):
    frame = media.read_image(obama_frame)
    face = faces.find_faces(frame)[0]
    for dx, dy, scale in [(-300, 0, 1), (300, 0, 1), (0, -150, 1), (0, 180, 1), (0, 0, 0.3), (0, 0, 2.5)]:
        matrix = np.array([[scale, 0, dx], [0, scale, dy]], np.float64)
        size = (int(frame.shape[1] * max(scale, 1)), int(frame.shape[0] * max(scale, 1)))
        moved = cv2.warpAffine(frame, matrix, size)
        points = geometry.transform_points(face.landmarks, matrix)
        job = swap.face_job(0, points, tiny.settings)
        out = swap.swap_frames([moved], tiny, "b", swap.SwapSettings(seamless=True), jobs=[job])[0]
        assert out.shape == moved.shape and out.dtype == np.uint8
        # The face went where the moved face is, even cut by the edge: nothing changed elsewhere.
        ys, xs = np.nonzero(np.any(out != moved, axis=2))
        assert len(xs) > 100, (dx, dy, scale)
        x0, y0, x1, y1 = swap.face_region(moved.shape, job.matrix, tiny.settings.image_size)
        assert x0 <= xs.min() and xs.max() < x1 and y0 <= ys.min() and ys.max() < y1, (dx, dy, scale)
        shown = points[(points >= 0).all(axis=1) & (points < size).all(axis=1)]  # the landmarks inside the frame
        assert np.linalg.norm([xs.mean(), ys.mean()] - shown.mean(axis=0)) < 0.5 * np.ptp(points[:, 0]), (dx, dy, scale)


def test_full_disk_during_a_crop_write_is_reported_and_keeps_nothing_half_written(data_dir, tmp_path, monkeypatch):
    real_replace = files.os.replace
    calls = {"n": 0}

    def failing_replace(src, dst):
        calls["n"] += 1
        if calls["n"] == 3:
            raise OSError(errno.ENOSPC, "No space left on device")
        return real_replace(src, dst)

    monkeypatch.setattr(files.os, "replace", failing_replace)
    with pytest.raises(OSError, match="No space left"):
        extract.extract([data_dir / "obama"], tmp_path, progress=False)
    assert not list(tmp_path.glob(".*tmp*"))  # the temporary file was cleaned up
    # Writes 1 and 2 were the first crop and alignments.json; the second crop failed.
    assert [p.name for p in tmp_path.glob("*.jpg")] == ["c000_f00000_0.jpg"]  # the face written before is whole
    for path in tmp_path.glob("*.jpg"):
        media.read_image(path)
    assert [r["file"] for r in alignments.read(tmp_path)["faces"]] == ["c000_f00000_0.jpg"]


def test_cli_full_disk_and_unwritable_output_are_one_line(data_dir, tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(files.os, "replace", lambda *a: (_ for _ in ()).throw(OSError(errno.ENOSPC, "No space left on device")))
    assert cli.main(["extract", str(data_dir / "obama"), "-o", str(tmp_path / "out")]) == 2
    err = [line for line in capsys.readouterr().err.splitlines() if line.startswith("error")]
    assert len(err) == 1 and "No space left on device" in err[0]
    # An unwritable folder, simulated so the test means the same as root (who may write anywhere).
    monkeypatch.undo()
    locked = tmp_path / "locked"
    real_mkdir = Path.mkdir

    def refuse(self, *args, **kwargs):
        if locked in (self, *self.parents):
            raise PermissionError(errno.EACCES, "Permission denied", str(self))
        return real_mkdir(self, *args, **kwargs)

    monkeypatch.setattr(Path, "mkdir", refuse)
    code = cli.main(["extract", str(data_dir / "obama"), "-o", str(locked / "out")])
    err = [line for line in capsys.readouterr().err.splitlines() if line.startswith("error")]
    assert code == 2 and len(err) == 1 and str(locked / "out") in err[0] and "Permission denied" in err[0]


def test_cli_wrong_preset_and_missing_model_are_clear(tmp_path, data_dir, capsys):
    saving.save(model.build("tiny"), tmp_path / "tiny")
    for person in ("obama", "trump"):
        extract.extract([data_dir / person], tmp_path / person, progress=False)
    code = cli.main(["train", str(tmp_path / "obama"), str(tmp_path / "trump"), "-m", str(tmp_path / "new"),
                     "--preset", "lite", "--pretrained", str(tmp_path / "tiny"), "--iterations", "1"])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(err) == 1 and "'tiny'" in err[0] and "'lite'" in err[0]
    code = cli.main(["convert", str(data_dir / "trump"), "-m", str(tmp_path / "none"), "-o", str(tmp_path / "o"),
                     "--to", "a"])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(err) == 1 and "no config.json" in err[0]


def test_cli_zero_length_video_and_faceless_image(tmp_path, capsys):
    net = model.build("tiny")
    saving.save(net, tmp_path / "m", names=("obama", "trump"))
    (tmp_path / "in").mkdir()
    (tmp_path / "in" / "empty.mp4").write_bytes(b"")
    media.write_image(tmp_path / "in" / "wall.png", np.full((200, 200, 3), 90, np.uint8))
    code = cli.main(["convert", str(tmp_path / "in"), "-m", str(tmp_path / "m"), "-o", str(tmp_path / "o"),
                     "--to", "trump"])
    out = capsys.readouterr()
    assert code == 1
    assert "empty.mp4: empty file" in out.out and "wall.png: no face found" in out.out


# --- Everything hostile at once ---------------------------------------------------------------------

EXIT_CODES = {0, 1, 2}  # documented in swapface.cli
LONG_NAME = "n" * 248 + "_é.jpg"  # 255 bytes: the most a name may have
TRUMP = Path(__file__).resolve().parents[1] / "data" / "trump"


@pytest.fixture(scope="module")
def hostile(tmp_path_factory, data_dir, bomb_png, vfr_clip, portrait_clip, late_clip, cover_art_mkv):
    """A folder holding every kind of input the hostile round found trouble with, next to good ones.

    Returns (folder, {name: "face" | "video"} of the inputs that must produce an output).
    """
    import subprocess

    import imageio_ffmpeg
    from PIL import Image

    root = tmp_path_factory.mktemp("hostile")
    folder = root / "in"
    (folder / "a").mkdir(parents=True)
    (folder / "b").mkdir()
    obama, trump = data_dir / "obama" / "c000_f00000.jpg", data_dir / "trump" / "c006_f00070.jpg"
    good = {}
    shutil.copy(obama, folder / "a" / "frame.jpg")  # same name in two folders (1)
    shutil.copy(trump, folder / "b" / "frame.jpg")
    image = media.read_image(data_dir / "obama" / "c001_f00024.jpg")
    cv2.imwrite(str(folder / "photo.bmp"), image)  # same stem, two formats (1)
    cv2.imwrite(str(folder / "photo.webp"), image, [cv2.IMWRITE_WEBP_QUALITY, 101])
    exif = Image.Exif()
    exif[0x0112] = 6
    Image.fromarray(np.ascontiguousarray(np.rot90(image, 1))[..., ::-1]).save(folder / "phone.jpg", exif=exif)  # (15)
    (folder / "motion.jpg").write_bytes(obama.read_bytes() + (data_dir / "video" / "obama_silent_b.mp4").read_bytes())
    shutil.copy(trump, folder / "visage été -1.jpg")  # odd characters in the name
    cv2.imwrite(str(folder / "deep16.png"), np.dstack([image.astype(np.uint16) * 257,
                                                       np.full(image.shape[:2], 65535, np.uint16)]))
    good.update({name: "face" for name in ("photo.bmp", "photo.webp", "phone.jpg", "motion.jpg",
                                           "visage été -1.jpg", "deep16.png")})
    good.update({"a/frame.jpg": "face", "b/frame.jpg": "face"})
    shutil.copy(data_dir / "video" / "obama_silent_b.mp4", folder / "clip.mp4")
    shutil.copy(vfr_clip[0], folder / "vfr.mp4")  # (16)
    subprocess.run([imageio_ffmpeg.get_ffmpeg_exe(), "-loglevel", "error", "-f", "lavfi", "-i",
                    "testsrc=s=641x479:r=10:d=0.5", "-c:v", "ffv1", str(folder / "odd.mkv")], check=True)  # (18)
    good.update({"clip.mp4": "video", "vfr.mp4": "video", "odd.mkv": "video"})
    # Round 3: a phone's portrait video, a video starting after its sound, cover art first, a long name.
    for clip, name in ((portrait_clip, "portrait.mp4"), (late_clip, "late.mp4"), (cover_art_mkv, "cover.mkv")):
        shutil.copy(clip, folder / name)
        good[name] = "video with a face"
    shutil.copy(obama, folder / LONG_NAME)
    good[LONG_NAME] = "face"
    # The bad: each must be skipped with a line, never stop the run.
    (folder / "empty.jpg").write_bytes(b"")
    (folder / "truncated.jpg").write_bytes(obama.read_bytes()[:5000])
    (folder / "text.png").write_text("not an image")
    cv2.imwrite(str(folder / "strip.png"), np.full((1, 5000, 3), 128, np.uint8))  # (9)
    cv2.imwrite(str(folder / "dot.png"), np.zeros((1, 1, 3), np.uint8))
    cv2.imwrite(str(folder / "small.png"), cv2.resize(image, (64, 64)))  # a face too small to find
    shutil.copy(bomb_png, folder / "bomb.png")  # (13)
    (folder / "empty.mp4").write_bytes(b"")
    (folder / "text.mp4").write_text("not a video")
    os.mkfifo(folder / "pipe.jpg")  # (14)
    return folder, good


def _run(argv, capsys):
    """cli.main, failing (not stalling) if it hangs; (code, stdout, stderr)."""
    result = {}

    def run():
        try:
            result["code"] = cli.main([str(arg) for arg in argv])
        except BaseException as err:  # noqa: BLE001 - handed back to the test
            result["error"] = err

    thread = threading.Thread(target=run, daemon=True)  # a stuck one dies with the test process
    thread.start()
    thread.join(300)
    assert not thread.is_alive(), f"swapface {argv[0]} hung"
    if "error" in result:
        raise result["error"]
    out = capsys.readouterr()
    assert result["code"] in EXIT_CODES and "Traceback" not in out.err, out.err
    return result["code"], out.out, out.err


def _inputs(folder):
    return [folder, folder / "a", folder / "b", folder / "pipe.jpg"]  # the FIFO also named explicitly


def test_hostile_folder_through_extract_convert_diagnose_and_evaluate(hostile, tmp_path, capsys):
    folder, good = hostile
    net = model.build("tiny")
    saving.save(net, tmp_path / "tiny", names=("obama", "trump"))

    # extract: every good face kept, the summary equal to the files on disk
    code, out, _ = _run(["extract", *_inputs(folder), "-o", tmp_path / "faces", "--every", "10"], capsys)
    assert code == 0
    kept = int(re.search(r"faces found: \d+, kept: (\d+)", out).group(1))
    crops = sorted(p.name for p in (tmp_path / "faces").glob("*.jpg"))
    document = alignments.read(tmp_path / "faces")
    assert kept == len(crops) == len(document["faces"]) and crops == sorted(r["file"] for r in document["faces"])
    sources = {os.path.relpath(r["source"], folder) for r in document["faces"]}
    assert {name for name, kind in good.items() if kind in ("face", "video with a face")} <= sources
    skipped = {line.split(":")[0].removeprefix("skipped ") for line in out.splitlines() if line.startswith("skipped")}
    for bad in ("empty.jpg", "truncated.jpg", "text.png", "bomb.png", "empty.mp4", "text.mp4", "pipe.jpg"):
        assert str(folder / bad) in skipped, bad

    # convert: one output per good input, the summary equal to the files on disk
    code, out, _ = _run(["convert", *_inputs(folder), "-m", tmp_path / "tiny", "-o", tmp_path / "out",
                         "--to", "trump"], capsys)
    assert code == 0
    images, videos = map(int, re.search(r"converted (\d+) images and (\d+) videos", out).groups())
    written = sorted(p.name for p in (tmp_path / "out").iterdir())
    assert images == sum(not name.endswith(".mp4") for name in written)
    assert videos == sum(name.endswith(".mp4") for name in written) == 6
    assert images >= sum(kind == "face" for kind in good.values())
    assert {"clip.mp4", "vfr.mp4", "odd.mp4", "frame.jpg", "frame-2.jpg", "photo.png", "photo-2.png",
            "portrait.mp4", "late.mp4", "cover.mp4", LONG_NAME} <= set(written)
    assert "cover.mkv: video track 0 (mjpeg" in out  # the still it holds is named, not silently dropped
    from swapface import videoio

    assert videoio.video_info(tmp_path / "out" / "portrait.mp4").rotation == 0  # written as shown: upright
    assert abs(videoio.video_info(tmp_path / "out" / "late.mp4").start - 0.5) < 0.04  # still after its sound

    # degenerate alignments: refused in one line naming the record, nothing converted
    shutil.copytree(tmp_path / "faces", tmp_path / "bent")
    bent = json.loads((tmp_path / "bent" / "alignments.json").read_text())
    bent["faces"][-1]["landmarks"] = [[10.0, 10.0]] * 68
    (tmp_path / "bent" / "alignments.json").write_text(json.dumps(bent))
    code, _, err = _run(["convert", folder, "-m", tmp_path / "tiny", "-o", tmp_path / "bent_out", "--to", "trump",
                         "--alignments", tmp_path / "bent"], capsys)
    assert code == 2 and f"face record {len(bent['faces']) - 1} " in err and "degenerate" in err
    assert not (tmp_path / "bent_out").exists() or not list((tmp_path / "bent_out").iterdir())
    assert all(provenance.digital_source_type(tmp_path / "out" / name) for name in written)

    # diagnose: two folders of one name, and the folder of a run that found nothing
    shutil.copytree(tmp_path / "faces", tmp_path / "again" / "faces")
    (tmp_path / "nothing").mkdir()
    code, out, _ = _run(["extract", folder / "strip.png", folder / "dot.png", "-o", tmp_path / "nothing" / "faces"],
                        capsys)
    assert code == 1
    code, out, _ = _run(["diagnose", tmp_path / "faces", tmp_path / "again" / "faces", tmp_path / "nothing" / "faces",
                         "-o", tmp_path / "diagnosis"], capsys)
    assert code == 0
    report = json.loads((tmp_path / "diagnosis" / "diagnostics.json").read_text())
    assert sorted(stats["faces"] for stats in report.values()) == [0, kept, kept]

    # evaluate: the bad frames among the held-out ones are skipped and listed
    code, out, _ = _run(["evaluate", "-m", tmp_path / "tiny", "--a", folder, "--b", TRUMP,
                         "-o", tmp_path / "report"], capsys)
    assert code == 0
    results = json.loads((tmp_path / "report" / "metrics.json").read_text())
    listed = {Path(name).name for name, _ in results["skipped"]}
    assert {"empty.jpg", "truncated.jpg", "text.png", "bomb.png", "clip.mp4"} <= listed
    assert "clip.mp4: a video, not a frame" in out

    # a malformed model folder and an impossible option: one line naming the file, exit 2 (11, 12)
    broken = tmp_path / "broken"
    shutil.copytree(tmp_path / "tiny", broken)
    (broken / "config.json").write_text('{"settings": [], "names": ["a", "b"]}')
    code, _, err = _run(["convert", folder / "a", "-m", broken, "-o", tmp_path / "x", "--to", "trump"], capsys)
    assert code == 2 and f"{broken / 'config.json'}: 'settings' is a list" in err
    with pytest.raises(SystemExit) as info:
        cli.main(["extract", str(folder), "-o", str(tmp_path / "y"), "--every", "0"])
    assert info.value.code == 2 and "Traceback" not in capsys.readouterr().err and not (tmp_path / "y").exists()
    assert provenance.digital_source_type(tmp_path / "report" / "report.png")
