"""Reading video through PyAV (swapface.videoio): timestamps, damage, tags."""

import subprocess

import imageio_ffmpeg
import numpy as np
import pytest

from swapface import media, videoio


def test_timed_frames_follow_a_variable_frame_rate(vfr_clip):
    path, times = vfr_clip
    seen = [(index, seconds) for index, seconds, _ in videoio.iter_timed_frames(path)]
    assert [index for index, _ in seen] == list(range(len(times)))
    assert np.allclose([seconds for _, seconds in seen], times, atol=0.021)  # one tick of its 50 Hz time base


def test_a_cut_off_video_keeps_its_frames_up_to_the_cut(tmp_path):
    whole = tmp_path / "whole.mkv"  # Matroska: the index is not needed to read on, as in a cut-off recording
    subprocess.run([imageio_ffmpeg.get_ffmpeg_exe(), "-loglevel", "error", "-f", "lavfi", "-i",
                    "testsrc=s=160x120:r=10:d=4", "-c:v", "libx264", "-g", "5", str(whole)], check=True)
    cut = tmp_path / "cut.mkv"
    cut.write_bytes(whole.read_bytes()[: whole.stat().st_size * 6 // 10])
    kept = sum(1 for _ in videoio.iter_frames(cut))
    assert 10 <= kept < 40


def test_an_mp4_cut_before_its_index_is_a_clear_error(data_dir, tmp_path):
    cut = tmp_path / "cut.mp4"  # ffmpeg writes the index (moov) last: without it nothing can be read
    cut.write_bytes((data_dir / "video" / "obama_silent_b.mp4").read_bytes()[:50_000])
    with pytest.raises(media.MediaError, match=f"{cut}: not a readable video"):
        videoio.video_info(cut)


def test_a_portrait_phone_video_is_read_upright(portrait_clip, data_dir):
    info = videoio.video_info(portrait_clip)
    assert (info.width, info.height, info.rotation) == (1280, 720, 90)  # shown as filmed, stored 720x1280
    upright = next(videoio.iter_frames(data_dir / "video" / "obama_silent_b.mp4"))[1]
    timed = ((index, frame) for index, _, frame in videoio.iter_timed_frames(portrait_clip))
    for frames in (videoio.iter_frames(portrait_clip), timed):
        first = next(frames)[1]
        assert first.shape == (720, 1280, 3)
        assert np.abs(first.astype(float) - upright).mean() < 3  # the same picture, only re-encoded


def test_cover_art_first_is_not_taken_for_the_video(cover_art_mkv):
    info = videoio.video_info(cover_art_mkv)
    assert (info.width, info.height) == (1280, 720) and round(info.fps, 2) == 29.97
    assert [note for note in info.notes if "track 0 (mjpeg" in note and "not converted" in note]
    frames = [frame for _, frame in videoio.iter_frames(cover_art_mkv)]
    assert len(frames) == 8 and frames[0].shape == (720, 1280, 3)


def test_a_video_starting_after_its_sound_keeps_its_offset(late_clip):
    info = videoio.video_info(late_clip)
    assert abs(info.start - 0.5) < 0.02
    seconds = [s for _, s, _ in videoio.iter_timed_frames(late_clip)]
    assert abs(seconds[0] - 0.5) < 0.02 and np.allclose(np.diff(seconds), 1001 / 30000, atol=0.002)


def test_the_frame_rate_is_the_timestamps_own_not_the_average(tmp_path):
    """25 fps with a 4 s pause: the average (5 fps) would drop most frames."""
    from conftest import ffmpeg

    path = tmp_path / "pause.mp4"
    ffmpeg("-f", "lavfi", "-i", "testsrc=s=160x120:r=25:d=1", "-vf", "setpts='(N*0.04+4*gte(N,20))/TB'",
           "-fps_mode", "vfr", "-c:v", "libx264", path)
    assert videoio.video_info(path).fps == 25


def test_split_frames_holds_out_the_end_of_the_clip_by_time(data_dir, tmp_path):
    """The training part and the held-out part share no frame and meet at 3/4 of the clip."""
    clip = data_dir / "video" / "obama_silent_b.mp4"  # 29 frames
    train, held = videoio.split_frames(clip, tmp_path / "train", tmp_path / "held", held_out=0.25, every=2)
    index = [[int(path.stem.rsplit("_f", 1)[1]) for path in part] for part in (train, held)]
    assert index[0] + index[1] == list(range(0, 29, 2))  # every 2nd frame, each once, in order
    assert max(index[0]) < 22 <= min(index[1])  # round(29 * 0.75) = 22: the last quarter is held out
    assert sorted((tmp_path / "held").glob("*.jpg")) == held
    first = next(videoio.iter_frames(clip))[1]
    assert np.abs(media.read_image(train[0]).astype(int) - first).mean() < 3  # the frame itself (JPEG 95)
    with pytest.raises(ValueError, match="held_out"):
        videoio.split_frames(clip, tmp_path / "a", tmp_path / "b", held_out=1.0)
