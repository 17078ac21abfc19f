"""Video in and out through PyAV (swapface.videoio): timestamps, damage, tags, round trips."""

import subprocess
from fractions import Fraction

import imageio_ffmpeg
import numpy as np
import pytest

from swapface import media, videoio


def test_timed_frames_follow_a_variable_frame_rate(vfr_clip):
    path, times = vfr_clip
    seen = [(index, seconds) for index, seconds, _ in videoio.iter_timed_frames(path)]
    assert [index for index, _ in seen] == list(range(len(times)))
    assert np.allclose([seconds for _, seconds in seen], times, atol=0.021)  # one tick of its 50 Hz time base


def test_a_written_video_reads_back_with_its_size_rate_frames_and_tags(tmp_path):
    frames = [np.full((48, 64, 3), 60 + 10 * k, np.uint8) for k in range(12)]  # grey 60..170, one per frame
    writer = videoio.VideoWriter(tmp_path / "out.mp4", (64, 48), 30000 / 1001, None, crf=0, tags={"comment": "made here"})
    for frame in frames:
        writer.send(frame)
    writer.close()
    info = videoio.video_info(tmp_path / "out.mp4")
    assert (info.width, info.height, info.frames, info.audio) == (64, 48, 12, None)
    assert Fraction(info.fps).limit_denominator(1001) == Fraction(30000, 1001)
    assert videoio.read_tag(tmp_path / "out.mp4") == "made here"
    read = [frame for _, frame in videoio.iter_frames(tmp_path / "out.mp4")]
    # in order, none lost or repeated; within the rounding of BGR -> limited-range YUV 4:2:0 and back
    # (ffmpeg's own command line shifts a grey of 100 to (95, 98, 96) too)
    assert np.allclose([frame.mean() for frame in read], [60 + 10 * k for k in range(12)], atol=4)


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
