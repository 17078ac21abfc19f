"""Loading a folder of aligned faces as training reads it, odd files included."""

import cv2
import numpy as np
import pytest

import dataclasses
import logging

from swapface import batches, extract, media, train

TINY = train.TrainSettings(preset="tiny", batch_size=4, iterations=3, save_every=2, workers=0, preview_faces=2,
                           precision="float32")


@pytest.fixture(scope="module")
def obama_faces(tmp_path_factory, data_dir):
    folder = tmp_path_factory.mktemp("faces") / "obama"
    extract.extract([data_dir / "obama"], folder, progress=False)
    return folder


def test_one_odd_sized_face_sorted_first_does_not_drop_the_others(obama_faces, tmp_path):
    folder = tmp_path / "faces"
    folder.mkdir()
    crops = sorted(obama_faces.glob("*.jpg"))
    for path in crops:
        (folder / path.name).write_bytes(path.read_bytes())
    first = media.read_image(crops[0])
    cv2.imwrite(str(folder / "0000_small.png"), cv2.resize(first, (64, 64), interpolation=cv2.INTER_AREA))
    cv2.imwrite(str(folder / "0001_wide.png"), np.zeros((256, 300, 3), np.uint8))  # not square: no face crop
    loaded = batches.load_faces(folder)
    assert loaded.shape == (len(crops) + 1, 256, 256, 3)  # every 256 px face, and the small one resized
    assert np.abs(loaded[0].astype(float) - cv2.resize(first, (64, 64), interpolation=cv2.INTER_AREA)
                  .repeat(4, 0).repeat(4, 1)).mean() < 25  # the 64 px face, upscaled
    for index, path in enumerate(crops, start=1):
        assert np.array_equal(loaded[index], media.read_image(path))


def test_common_side_is_the_majority_read_from_headers(obama_faces, tmp_path):
    paths = sorted(obama_faces.glob("*.jpg"))
    small = tmp_path / "a.png"
    cv2.imwrite(str(small), np.zeros((64, 64, 3), np.uint8))
    (tmp_path / "junk.jpg").write_bytes(b"not an image")
    assert batches.common_side([small, tmp_path / "junk.jpg", *paths]) == 256


@pytest.fixture(scope="module")
def faces(aligned):
    return tuple(batches.load_faces(folder) for folder in aligned)


def test_load_faces_decodes_each_face_once(faces, aligned):
    count = len(batches.face_files(aligned[0]))
    assert faces[0].shape == (count, 256, 256, 3) and faces[0].dtype == np.uint8


def test_weights_channel_comes_from_alignments(obama_faces):
    loaded = batches.load_faces(obama_faces, weights=True)
    assert loaded.shape[-1] == 4 and set(np.unique(loaded[0, ..., 3])) == {0, 128, 255}
    plain = batches.load_faces(obama_faces)
    assert np.array_equal(plain, loaded[..., :3])
    warped_a, target_a, _, _ = batches.make_batch(loaded, loaded, 0, seed=0, batch_size=2)
    assert warped_a.shape == (2, 64, 64, 3) and target_a.shape == (2, 64, 64, 4)  # the weights warp with the face


def test_faces_without_records_get_the_weights_of_their_detected_landmarks(obama_faces, tmp_path):
    """No alignments.json (or an array of faces): the landmarks are found on the crops, and
    weigh the face much as the recorded ones do."""
    recorded = batches.load_faces(obama_faces, weights=True)[..., 3]
    for path in obama_faces.glob("*.jpg"):
        (tmp_path / path.name).write_bytes(path.read_bytes())
    detected = batches.load_faces(tmp_path, weights=True)[..., 3]
    assert (detected == recorded).mean() > 0.9
    arrays = batches.with_weights(batches.load_faces(obama_faces))
    assert np.array_equal(arrays[..., 3], detected) and batches.with_weights(arrays) is arrays
    blank = batches.face_weights(np.zeros((1, 64, 64, 3), np.uint8), [None])  # no face: all of it counts
    assert (blank == 128).all()


def test_corrupt_face_is_skipped_and_named(aligned, tmp_path, caplog):
    folder = tmp_path / "faces"
    folder.mkdir()
    good = batches.face_files(aligned[0])[:3]
    for path in good:
        (folder / path.name).write_bytes(path.read_bytes())
    (folder / "broken.jpg").write_bytes(b"not a jpeg at all")
    (folder / "cut.jpg").write_bytes(good[0].read_bytes()[:3000])
    with caplog.at_level(logging.WARNING, logger="swapface.train"):
        loaded = batches.load_faces(folder)
    assert len(loaded) == 3
    assert "broken.jpg" in caplog.text and "cut.jpg" in caplog.text


def test_folder_without_faces_is_a_clear_error(tmp_path):
    (tmp_path / "none").mkdir()
    with pytest.raises(media.MediaError, match="none: no usable face"):
        batches.load_faces(tmp_path / "none")
    with pytest.raises(media.MediaError, match="no such folder"):
        batches.load_faces(tmp_path / "missing")


def test_worker_batches_are_right_and_reproducible(faces):
    settings = train.batch_settings(dataclasses.replace(TINY, workers=2, seed=3))
    with batches.BatchStream(*faces, settings, start=5) as stream:
        made = [next(stream) for _ in range(3)]
    for batch in made:
        assert len(batch) == 4
        for array in batch:
            assert array.shape == (4, 64, 64, 3) and array.dtype == np.float32
            assert 0 <= array.min() and array.max() <= 1
    # Batch k depends on (seed, k) only: not on the worker count, not on where the stream began.
    with batches.BatchStream(*faces, dataclasses.replace(settings, workers=0), start=6) as inline:
        assert all(np.array_equal(a, b) for a, b in zip(next(inline), made[1]))
    again = batches.make_batch(*faces, 7, seed=3, batch_size=4)
    assert all(np.array_equal(a, b) for a, b in zip(again, made[2]))
    other = batches.make_batch(*faces, 7, seed=4, batch_size=4)
    assert not np.array_equal(other[0], again[0])


def test_colour_trick_shifts_a_towards_b(faces):
    shift = batches.colour_shift(*faces)
    assert shift.shape == (3,) and shift.dtype == np.float32
    plain = batches.make_batch(*faces, 0, seed=0, batch_size=4)
    shifted = batches.make_batch(*faces, 0, seed=0, batch_size=4, shift=shift)
    np.testing.assert_allclose(shifted[1], plain[1] + shift, atol=1e-6)
    np.testing.assert_array_equal(shifted[3], plain[3])
