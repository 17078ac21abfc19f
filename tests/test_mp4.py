"""Writing mp4 files (swapface.mp4): what is written reads back as it was sent."""

from fractions import Fraction

import numpy as np

from swapface import mp4, videoio


def test_a_written_video_reads_back_with_its_size_rate_frames_and_tags(tmp_path):
    frames = [np.full((48, 64, 3), 60 + 10 * k, np.uint8) for k in range(12)]  # grey 60..170, one per frame
    writer = mp4.VideoWriter(tmp_path / "out.mp4", (64, 48), 30000 / 1001, None, crf=0, tags={"comment": "made here"})
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
