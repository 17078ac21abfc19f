"""Loading a folder of aligned faces as training reads it, odd files included."""

import cv2
import numpy as np
import pytest

from swapface import batches, extract, media


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
