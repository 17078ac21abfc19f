"""Video conversion keeps time, size and sound, and fails loudly when it cannot write."""

import subprocess

import imageio_ffmpeg
import numpy as np
import pytest

from swapface import media, model, video


@pytest.fixture(scope="module")
def tiny():
    return model.build("tiny")


def test_variable_frame_rate_keeps_each_frame_at_its_time(vfr_clip, tiny, tmp_path):
    path, times = vfr_clip
    out = tmp_path / "out.mp4"
    report = video.convert_video(path, out, tiny, "a", video_settings=video.VideoSettings(mark=False, crf=0),
                                 progress=False)
    assert report.audio and any("variable frame rate" in note for note in report.notes)
    fps = media.video_info(out).fps
    shown = [int(np.argmax(frame[:, :, 0].mean(axis=0))) // 4 for _, frame in media.iter_frames(out)]  # the bar
    # Output frame k is on screen at k / fps: it must show the input frame on screen then,
    # to within half an output frame (which of two frames falls nearer a slot).
    on_screen = lambda seconds: max(i for i, t in enumerate(times) if t <= max(seconds, 0) + 1e-6)  # noqa: E731
    for k, index in enumerate(shown):
        assert on_screen((k - 0.5) / fps) <= index <= on_screen((k + 0.5) / fps), (k, index)
    assert abs(len(shown) / fps - (times[-1] + 1 / fps)) < 2 / fps  # as long as the input
    assert abs(video.probe_audio(out) - video.probe_audio(path)) < 0.1


def test_odd_sized_video_is_padded_not_rescaled(tiny, tmp_path):
    # 1-pixel stripes: any resampling smears them; padding keeps every pixel where it was.
    stripes = np.zeros((479, 641, 3), np.uint8)
    stripes[:, ::2] = 220
    stripes[::7] = 60
    source = tmp_path / "odd.mkv"
    encoder = subprocess.Popen([imageio_ffmpeg.get_ffmpeg_exe(), "-loglevel", "error", "-f", "rawvideo",
                                "-pix_fmt", "bgr24", "-s", "641x479", "-r", "10", "-i", "-", "-c:v", "ffv1",
                                str(source)], stdin=subprocess.PIPE)
    encoder.communicate(np.stack([stripes] * 5).tobytes())
    assert media.video_info(source).width == 641
    out = tmp_path / "odd.mp4"
    report = video.convert_video(source, out, tiny, "b", video_settings=video.VideoSettings(mark=False, crf=0),
                                 progress=False)
    assert report.notes == ["padded 641x479 to 642x480 with copies of the edge pixels (H.264 needs even sides)"]
    frame = next(media.iter_frames(out))[1]
    assert frame.shape == (480, 642, 3)
    error = np.abs(frame[:479, :641].astype(float) - stripes).mean()
    assert error < 6  # yuv420p's halved colour resolution only; a rescale gives ~50


def test_full_disk_fails_the_video_and_leaves_no_file(data_dir, tiny, tmp_path, monkeypatch):
    # ffmpeg limited to 64 KB of output file, as a nearly full disk does to it (root included).
    limited = tmp_path / "ffmpeg"
    limited.write_text(f'#!/bin/sh\nulimit -f 64\nexec "{imageio_ffmpeg.get_ffmpeg_exe()}" "$@"\n')
    limited.chmod(0o755)
    monkeypatch.setattr(imageio_ffmpeg, "get_ffmpeg_exe", lambda: str(limited))
    out = tmp_path / "out" / "clip.mp4"
    out.parent.mkdir()
    with pytest.raises(OSError, match="ffmpeg could not write the video") as info:
        video.convert_video(data_dir / "video" / "obama_silent_b.mp4", out, tiny, "b", progress=False)
    assert str(out) in str(info.value)
    assert list(out.parent.iterdir()) == []  # neither the mp4 nor its partial file


def test_ffmpeg_failure_is_an_error_not_a_success(tiny, tmp_path, monkeypatch):
    failing = tmp_path / "ffmpeg"
    failing.write_text('#!/bin/sh\ncat > /dev/null\necho "No space left on device" >&2\nexit 1\n')
    failing.chmod(0o755)
    frames = tmp_path / "frames.mkv"
    subprocess.run([imageio_ffmpeg.get_ffmpeg_exe(), "-loglevel", "error", "-f", "lavfi", "-i",
                    "color=c=gray:s=64x48:r=10:d=0.5", "-c:v", "ffv1", str(frames)], check=True)
    monkeypatch.setattr(imageio_ffmpeg, "get_ffmpeg_exe", lambda: str(failing))
    with pytest.raises(OSError, match=r"exit status 1\): No space left on device"):
        video.convert_video(frames, tmp_path / "out.mp4", tiny, "a", progress=False)
    assert not list(tmp_path.glob("*.mp4")) and not list(tmp_path.glob(".*partial*"))
