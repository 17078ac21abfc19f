"""The video face tracker: detects every few frames, follows faces in between, smooths, restarts at cuts."""

import numpy as np

from swapface import faces, media, video, videoio


def test_tracking_follows_the_detector_closely(data_dir):
    """Landmarks tracked between detections stay within a few pixels of fresh detections."""
    clip = data_dir / "video" / "obama_silent_b.mp4"
    tracked = video.FaceTracker(video.VideoSettings(detect_every=8, smooth=0))
    errors = []
    for _, frame in videoio.iter_frames(clip):
        points = tracked.step(frame)
        fresh = faces.find_faces(frame)
        if points and fresh:
            errors.append(np.abs(points[0] - fresh[0].landmarks).mean())
    assert len(errors) >= 25 and np.median(errors) < 2.5


def test_smoothing_reduces_jitter(data_dir):
    clip = data_dir / "video" / "obama_silent_b.mp4"

    def jitter(smooth):
        tracker = video.FaceTracker(video.VideoSettings(smooth=smooth))
        tracks = [tracker.step(frame)[0] for _, frame in videoio.iter_frames(clip)]
        steps = np.diff(np.stack(tracks), n=2, axis=0)  # acceleration: jitter, not motion
        return np.abs(steps).mean()

    assert jitter(0.6) < 0.8 * jitter(0.0)


def test_a_scene_cut_starts_the_face_afresh(obama_frame, trump_frame):
    """After a cut the new face's landmarks are its own, not pulled towards the last shot's face."""
    before, after = media.read_image(obama_frame), media.read_image(trump_frame)
    fresh = faces.find_faces(after)[0].landmarks

    def across_the_cut(cut_threshold: float) -> np.ndarray:
        tracker = video.FaceTracker(video.VideoSettings(smooth=0.9, cut_threshold=cut_threshold))
        tracker.step(before)
        return tracker.step(after)[0]

    assert np.allclose(across_the_cut(video.VideoSettings().cut_threshold), fresh)
    assert not np.allclose(across_the_cut(float("inf")), fresh)  # unseen, the cut would drag the old face in


def test_the_identity_filter_keeps_only_the_reference_person(obama_frame, trump_frame):
    obama, trump = media.read_image(obama_frame), media.read_image(trump_frame)
    only_obama = faces.IdentityFilter(references=faces.reference_descriptors([obama], [str(obama_frame)]))
    tracker = video.FaceTracker(identity=only_obama)
    assert len(tracker.step(obama)) == 1
    assert tracker.step(trump) == []
