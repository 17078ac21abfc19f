"""Video conversion keeps time, size and sound, and fails loudly when it cannot write."""

import dataclasses
import subprocess

import av
import imageio_ffmpeg
import numpy as np
import pytest

from swapface import faces, model, swap, video, videoio


def test_variable_frame_rate_keeps_each_frame_at_its_time(vfr_clip, tiny, tmp_path):
    path, times = vfr_clip
    out = tmp_path / "out.mp4"
    report = video.convert_video(path, out, tiny, "a", video_settings=video.VideoSettings(mark=False, crf=0),
                                 progress=False)
    assert report.audio and any("variable frame rate" in note for note in report.notes)
    fps = videoio.video_info(out).fps
    shown = [int(np.argmax(frame[:, :, 0].mean(axis=0))) // 4 for _, frame in videoio.iter_frames(out)]  # the bar
    # Output frame k is on screen at k / fps: it must show the input frame on screen then,
    # to within half an output frame (which of two frames falls nearer a slot).
    on_screen = lambda seconds: max(i for i, t in enumerate(times) if t <= max(seconds, 0) + 1e-6)  # noqa: E731
    for k, index in enumerate(shown):
        assert on_screen((k - 0.5) / fps) <= index <= on_screen((k + 0.5) / fps), (k, index)
    assert abs(len(shown) / fps - (times[-1] + 1 / fps)) < 2 / fps  # as long as the input
    assert abs(videoio.audio_seconds(out) - videoio.audio_seconds(path)) < 0.1


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
    assert videoio.video_info(source).width == 641
    out = tmp_path / "odd.mp4"
    report = video.convert_video(source, out, tiny, "b", video_settings=video.VideoSettings(mark=False, crf=0),
                                 progress=False)
    assert report.notes == ["padded 641x479 to 642x480 with copies of the edge pixels (H.264 needs even sides)"]
    frame = next(videoio.iter_frames(out))[1]
    assert frame.shape == (480, 642, 3)
    error = np.abs(frame[:479, :641].astype(float) - stripes).mean()
    assert error < 6  # yuv420p's halved colour resolution only; a rescale gives ~50


def test_full_disk_fails_the_video_and_leaves_no_file(data_dir, tiny, tmp_path, small_disk):
    out = tmp_path / "out" / "clip.mp4"
    out.parent.mkdir()
    with small_disk(64 * 1024), pytest.raises(OSError, match="could not write the video: File too large") as info:
        video.convert_video(data_dir / "video" / "obama_silent_b.mp4", out, tiny, "b", progress=False)
    assert str(out) in str(info.value)
    assert list(out.parent.iterdir()) == []  # neither the mp4 nor its partial file


def test_audio_is_copied_interleaved_and_whole(vfr_clip, tiny, tmp_path):
    """The source's sound packets are copied unchanged, all of them, between the video's."""
    path, _ = vfr_clip
    out = tmp_path / "out.mp4"
    video.convert_video(path, out, tiny, "a", video_settings=video.VideoSettings(mark=False), progress=False)
    with av.open(str(path)) as source, av.open(str(out)) as result:
        sent = [bytes(p) for p in source.demux(source.streams.audio[0]) if p.size]
        kinds = [p.stream.type for p in result.demux() if p.size]
        result.seek(0)
        copied = [bytes(p) for p in result.demux(result.streams.audio[0]) if p.size]
    assert copied == sent
    first_video = kinds.index("video")
    assert "audio" in kinds[first_video:kinds.index("video", first_video + 5)]  # not all sound at the end


def test_video_faces_are_cut_as_the_model_was_trained(data_dir, tmp_path, monkeypatch):
    """A coverage-0.8 model gets, from every video frame, the square it was trained on (not 2017's 1.0)."""
    net = model.build(dataclasses.replace(model.get_preset("tiny"), coverage=0.8))
    seen = []
    decode = swap.decode_jobs
    monkeypatch.setattr(swap, "decode_jobs", lambda frames, jobs, *args, **kw: (seen.extend(jobs),
                                                                                decode(frames, jobs, *args, **kw))[1])
    report = video.convert_video(data_dir / "video" / "obama_silent_b.mp4", tmp_path / "out.mp4", net, "b",
                                 progress=False)
    assert report.faces == len(seen) > 20
    trained = faces.eye_centres(np.vstack([np.zeros((17, 2)), faces.mean_face_points(64, 0.8)]))
    for job in seen:  # the eyes land where training put them: the mean face spans 0.8 of the square
        assert np.abs(faces.eye_centres(faces.transform_points(job.landmarks, job.matrix)) - trained).max() < 1.5
