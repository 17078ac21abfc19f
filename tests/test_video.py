"""Video conversion keeps time, size and sound, and fails loudly when it cannot write."""

import dataclasses
import subprocess
from fractions import Fraction

import av
import imageio_ffmpeg
import numpy as np
import pytest

from swapface import geometry, model, swap, video, videoio


def test_variable_frame_rate_keeps_each_frame_at_its_time(vfr_clip, tiny, tmp_path):
    path, _ = vfr_clip
    times = [seconds for _, seconds, _ in videoio.iter_timed_frames(path)]  # as encoded (test_videoio checks them)
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
    trained = geometry.eye_centres(np.vstack([np.zeros((17, 2)), geometry.mean_face_points(64, 0.8)]))
    for job in seen:  # the eyes land where training put them: the mean face spans 0.8 of the square
        assert np.abs(geometry.eye_centres(geometry.transform_points(job.landmarks, job.matrix)) - trained).max() < 1.5


def _streams(path):
    with av.open(str(path)) as container:
        return [(s.type, s.codec_context.name, None if s.start_time is None else float(s.start_time * s.time_base))
                for s in container.streams]


def test_a_portrait_phone_video_is_swapped_and_shown_as_filmed(portrait_clip, data_dir, tiny, tmp_path):
    out = tmp_path / "out.mp4"
    report = video.convert_video(portrait_clip, out, tiny, "a", video_settings=video.VideoSettings(mark=False),
                                 progress=False)
    assert report.frames == 8 and report.faces == 8  # the face is found: it is upright
    info = videoio.video_info(out)
    assert (info.width, info.height, info.rotation) == (1280, 720, 0)  # written upright, shown as the input is
    before = next(videoio.iter_frames(data_dir / "video" / "obama_silent_b.mp4"))[1]
    after = next(videoio.iter_frames(out))[1]
    assert np.abs(after[:, :300].astype(float) - before[:, :300]).mean() < 4  # away from the face: unchanged


def test_cover_art_mkv_converts_its_video(cover_art_mkv, tiny, tmp_path):
    report = video.convert_video(cover_art_mkv, tmp_path / "out.mp4", tiny, "a", progress=False)
    assert report.frames == 8 and report.faces == 8 and report.audio
    assert any("track 0 (mjpeg" in note for note in report.notes)  # the still is named, not dropped silently
    info = videoio.video_info(tmp_path / "out.mp4")
    assert (info.width, info.height) == (1280, 720)


def test_a_video_starting_after_its_sound_stays_in_sync(late_clip, tiny, tmp_path):
    out = tmp_path / "out.mp4"
    report = video.convert_video(late_clip, out, tiny, "a", progress=False)
    assert report.frames == 8 and not report.notes
    (_, _, video_start), (_, _, audio_start) = _streams(out)
    assert abs(video_start - 0.5) < 0.04 and abs(audio_start) < 0.03
    assert abs(next(videoio.iter_timed_frames(out))[1] - 0.5) < 0.04


def test_a_pause_keeps_every_frame_and_the_duration(tiny, tmp_path):
    from conftest import ffmpeg

    source = tmp_path / "pause.mp4"  # 20 frames at 25 fps, 4 s of nothing, 5 more; frame N has a bar at x = 6 N
    ffmpeg("-f", "lavfi", "-i", "color=c=black:s=160x120:r=25:d=1,format=gray,geq=lum='255*between(X,6*N,6*N+5)'",
           "-vf", "setpts='(N*0.04+4*gte(N,20))/TB'",
           "-fps_mode", "vfr", "-c:v", "libx264", "-crf", 12, source)
    out = tmp_path / "out.mp4"
    video.convert_video(source, out, tiny, "a", video_settings=video.VideoSettings(mark=False), progress=False)
    frames = [frame.astype(float) for _, frame in videoio.iter_frames(out)]
    changes = sum(np.abs(a - b).mean() > 1 for a, b in zip(frames, frames[1:]))
    assert changes == 24  # all 25 frames shown, none dropped
    assert abs(len(frames) / videoio.video_info(out).fps - 5.0) < 0.05


def test_a_trimmed_clip_is_not_variable_rate_and_gains_no_frame(data_dir, tiny, tmp_path):
    source = tmp_path / "trimmed.mp4"  # cut without re-encoding, as phone editors do: an edit list
    from conftest import ffmpeg

    ffmpeg("-ss", 0.35, "-i", data_dir / "video" / "obama_silent_b.mp4", "-t", 0.5, "-c", "copy", source)
    count = sum(1 for _ in videoio.iter_frames(source))
    report = video.convert_video(source, tmp_path / "out.mp4", tiny, "a", progress=False)
    assert report.frames == count == sum(1 for _ in videoio.iter_frames(tmp_path / "out.mp4"))
    assert not [note for note in report.notes if "variable" in note]


def test_extra_sound_and_subtitle_tracks_and_pixel_shape_are_kept(tiny, tmp_path):
    from conftest import ffmpeg

    (tmp_path / "s.srt").write_text("1\n00:00:00,000 --> 00:00:00,800\nhello\n")
    common = ["-f", "lavfi", "-i", "testsrc=s=160x120:r=10:d=1", "-f", "lavfi", "-i", "sine=d=1", "-f", "lavfi",
              "-i", "sine=frequency=880:d=1", "-i", tmp_path / "s.srt", "-map", "0", "-map", "1", "-map", "2",
              "-map", "3", "-vf", "setsar=4/3", "-c:v", "libx264", "-c:a", "aac"]
    ffmpeg(*common, "-c:s", "mov_text", tmp_path / "tracks.mp4")
    report = video.convert_video(tmp_path / "tracks.mp4", tmp_path / "out.mp4", tiny, "a", progress=False)
    assert [kind for kind, _, _ in _streams(tmp_path / "out.mp4")] == ["video", "audio", "audio", "subtitle"]
    assert videoio.video_info(tmp_path / "out.mp4").aspect == Fraction(4, 3) and not report.notes
    # What an mp4 cannot hold (SubRip subtitles), or an 8-bit copy cannot (PQ HDR), is said.
    ffmpeg(*common, "-pix_fmt", "yuv420p10le", "-bsf:v", "h264_metadata=transfer_characteristics=16",
           "-c:s", "srt", tmp_path / "tracks.mkv")
    report = video.convert_video(tmp_path / "tracks.mkv", tmp_path / "out2.mp4", tiny, "a", progress=False)
    assert [kind for kind, _, _ in _streams(tmp_path / "out2.mp4")] == ["video", "audio", "audio"]
    assert any(note.startswith("subtitle track 3 (srt) not kept") for note in report.notes)
    assert any(note.startswith("HDR (PQ") for note in report.notes)


def test_a_manifest_lost_to_a_full_disk_is_in_the_notes(data_dir, tiny, tmp_path, small_disk, monkeypatch):
    from swapface import provenance

    label = provenance.label_video

    def nearly_full(path):  # room for the video and its XMP, not for the signed copy beside it
        with small_disk(path.stat().st_size + 1024):  # the XMP box is 708 bytes, a manifest ~3 KB
            return label(path)

    monkeypatch.setattr(provenance, "label_video", nearly_full)
    out = tmp_path / "clip.mp4"
    report = video.convert_video(data_dir / "video" / "obama_silent_b.mp4", out, tiny, "a", progress=False)
    assert [note for note in report.notes if note.startswith("no C2PA manifest")]
    assert provenance.digital_source_type(out) and provenance.read_c2pa(out) is None
    assert [p.name for p in tmp_path.iterdir()] == ["clip.mp4"]  # no signed copy left behind
