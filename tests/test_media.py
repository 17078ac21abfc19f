"""Reading images and videos as a phone, a scraper or a hostile user hands them over."""

import io
import os
import threading
import time
from pathlib import Path

import cv2
import numpy as np
import pytest
from PIL import Image

from swapface import extract, faces, media, videoio


@pytest.fixture(scope="module")
def upright(obama_frame):
    return media.read_image(obama_frame)


def test_exif_orientation_is_honoured(upright, obama_frame, tmp_path):
    # A phone held upright stores the pixels turned 90 degrees and says so with orientation 6.
    stored = np.ascontiguousarray(np.rot90(upright, 1))  # counter-clockwise: 6 means "turn clockwise to show"
    exif = Image.Exif()
    exif[0x0112] = 6
    path = tmp_path / "phone.jpg"
    Image.fromarray(stored[..., ::-1]).save(path, quality=95, exif=exif)
    assert not faces.find_faces(media.to_bgr8(cv2.imread(str(path), cv2.IMREAD_UNCHANGED)))  # sideways: no face
    image = media.read_image(path)
    assert image.shape == upright.shape
    assert np.abs(image.astype(float) - upright).mean() < 4  # only JPEG loss
    report = extract.extract([path], tmp_path / "faces", progress=False)
    assert report.faces_kept == 1


def test_motion_photo_jpeg_with_a_video_after_the_end_marker_reads(obama_frame, data_dir, tmp_path, upright):
    clip = (data_dir / "video" / "obama_silent_b.mp4").read_bytes()
    motion = obama_frame.read_bytes() + clip  # how phones store a "live" photo
    assert b"\xff\xd9" not in motion[-1024:]  # the old end-of-file check would call it truncated
    path = tmp_path / "MVIMG_0001.jpg"
    path.write_bytes(motion)
    assert np.array_equal(media.read_image(path), upright)
    # A JPEG really cut short is still refused, also when it carries an EXIF thumbnail.
    exif = Image.Exif()
    exif[0x010F] = "phone"
    buffer = io.BytesIO()
    Image.fromarray(upright[..., ::-1]).save(buffer, format="JPEG", exif=exif)
    data = buffer.getvalue()
    with pytest.raises(media.MediaError, match="truncated"):
        media.decode_image(data[: len(data) * 2 // 3], "cut.jpg")


def test_readable_frames_skips_and_names_what_cannot_be_a_frame(obama_frame, data_dir, tmp_path):
    (tmp_path / "a.jpg").write_bytes(obama_frame.read_bytes())
    (tmp_path / "b.jpg").write_bytes(b"not a picture")
    (tmp_path / "c.mp4").write_bytes((data_dir / "video" / "obama_silent_b.mp4").read_bytes())
    skipped = []
    read = list(media.readable_frames([tmp_path], skipped))
    assert [path.name for path, _ in read] == ["a.jpg"] and read[0][1].dtype == np.uint8
    assert [Path(name).name for name, _ in skipped] == ["b.jpg", "c.mp4"]
    assert "a video, not a frame" in skipped[1][1]


def test_decompression_bomb_is_refused_from_its_header(bomb_png):
    assert bomb_png.stat().st_size < 2_000_000
    start = time.perf_counter()
    with pytest.raises(media.MediaError, match=r"too large \(14000x14000, 1\.6 GB decoded") as info:
        media.read_image(bomb_png)
    assert time.perf_counter() - start < 1.0  # no pixel was decoded
    assert str(info.value).startswith(str(bomb_png))


def test_large_but_plausible_photo_still_reads(tmp_path):
    path = tmp_path / "wide.png"
    cv2.imwrite(str(path), np.zeros((3000, 9000, 3), np.uint8))  # 27 Mpx, 81 MB decoded
    assert media.read_image(path).shape == (3000, 9000, 3)


def _within(seconds, call):
    """Run `call` in a daemon thread; a hang (the bug: open() on a FIFO waits for a writer)
    fails the test instead of stalling the run, and the stuck thread dies with the process."""
    result = {}

    def run():
        try:
            result["value"] = call()
        except BaseException as err:  # noqa: BLE001 - handed back to the test
            result["error"] = err

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    thread.join(seconds)
    if thread.is_alive():
        pytest.fail(f"still waiting after {seconds} s")
    if "error" in result:
        raise result["error"]
    return result["value"]


@pytest.mark.parametrize("name", ["pipe.jpg", "pipe.mp4"])
def test_fifo_input_is_skipped_not_waited_on(tmp_path, name, obama_frame):
    fifo = tmp_path / name
    os.mkfifo(fifo)
    with pytest.raises(media.MediaError, match="not a regular file \\(a FIFO\\)"):
        _within(10, lambda: media.read_image(fifo) if name.endswith(".jpg") else videoio.video_info(fifo))
    report = _within(20, lambda: extract.extract([fifo, obama_frame], tmp_path / "faces", progress=False))
    assert report.faces_kept == 1 and report.skipped == [(str(fifo), "not a regular file (a FIFO)")]


def test_character_device_is_not_read_forever(tmp_path):
    with pytest.raises(media.MediaError, match="a device"):
        _within(10, lambda: media.read_image("/dev/zero"))
