"""alignments.json (swapface.alignments): written, read back, and refused when it cannot be a face."""

import json

import numpy as np
import pytest

from swapface import alignments, faces, geometry, media


@pytest.fixture(scope="module")
def extraction(tmp_path_factory, obama_frame):
    """(the Obama frame, a folder holding its crop and alignments.json), as `swapface extract` writes them."""
    from swapface import extract

    folder = tmp_path_factory.mktemp("faces")
    extract.extract([obama_frame], folder, progress=False)
    return obama_frame, folder


def edited(folder, tmp_path, change):
    """A copy of `folder`'s alignments.json in `tmp_path`, its JSON document passed through `change`."""
    document = json.loads((folder / alignments.FILENAME).read_text())
    change(document)
    (tmp_path / alignments.FILENAME).write_text(json.dumps(document))
    return tmp_path


def test_a_written_record_reads_back_as_arrays_with_a_usable_source(tmp_path, frame, face, obama_frame):
    record = alignments.record("crop.jpg", obama_frame, tmp_path, None, 0, face)
    alignments.write(tmp_path, [record], size=256, coverage=geometry.CROP_COVERAGE)
    document = alignments.read(tmp_path)
    assert document["size"] == 256 and document["coverage"] == geometry.CROP_COVERAGE
    (back,) = document["faces"]
    assert back["landmarks"].dtype == np.float64 and back["landmarks"].shape == (68, 2)
    np.testing.assert_allclose(back["landmarks"], face.landmarks, atol=0.005)  # stored to 0.01 px
    np.testing.assert_array_equal(back["matrix"], face.matrix)
    assert media.read_image(back["source"]).shape == frame.shape  # relative in the file, usable here


def test_crop_landmarks_are_the_landmarks_detected_on_the_crop(extraction):
    """Recorded landmarks moved into the crop land where dlib finds them on the crop itself."""
    _, folder = extraction
    (name, points), = alignments.crop_landmarks(folder, 256).items()
    found = faces.largest_face(media.read_image(folder / name))
    assert np.linalg.norm(points - found.landmarks, axis=1).mean() < 3
    half = alignments.crop_landmarks(folder, 128)[name]  # crops decoded at another size: scaled with them
    np.testing.assert_allclose(half, points / 2)


def test_training_reads_no_impossible_landmarks(extraction, tmp_path, caplog):
    """A NaN record makes training find the faces again, with a warning, not train on nonsense."""
    _, folder = extraction
    copy = edited(folder, tmp_path, lambda document: document["faces"][0]["landmarks"].__setitem__(5, [float("nan"), 1]))
    assert alignments.crop_landmarks(copy, 64) == {}
    assert "landmarks are not finite" in caplog.text


@pytest.mark.parametrize("change, problem", [
    (lambda d: d.pop("size"), "'size' is missing"),
    (lambda d: d.update(faces={}), "'faces' is not a list"),
    (lambda d: d["faces"][0].pop("matrix"), "face record 0 is malformed (no 'matrix')"),
    (lambda d: d["faces"][0].update(matrix=[[0, 0, 1], [0, 0, 1]]), "maps the face to a point"),
    (lambda d: d["faces"][0].update(landmarks=[[3, 3]] * 68), "landmarks are degenerate"),
])
def test_a_record_that_cannot_be_a_face_is_refused_naming_the_file(extraction, tmp_path, change, problem):
    _, folder = extraction
    with pytest.raises(media.MediaError, match=str(tmp_path / alignments.FILENAME)) as error:
        alignments.read(edited(folder, tmp_path, change))
    assert problem in str(error.value)


def test_landmarks_problem_names_what_is_wrong(face):
    assert alignments.landmarks_problem(face.landmarks, (480, 854)) is None
    assert "beyond any image" in alignments.landmarks_problem(face.landmarks * 1e4)
    assert "outside the 100x80 image" in alignments.landmarks_problem(face.landmarks, (80, 100))


def test_landmarks_by_source_lists_images_and_leaves_video_frames_out(extraction, tmp_path):
    image, folder = extraction
    found = alignments.landmarks_by_source(folder / alignments.FILENAME)  # the file or its folder
    assert list(found) == list(alignments.landmarks_by_source(folder)) == [image.resolve()]
    (points,) = found[image.resolve()]
    assert points.shape == (68, 2)
    video = edited(folder, tmp_path, lambda d: d["faces"][0].update(source="clip.mp4", frame=3))
    assert alignments.landmarks_by_source(video) == {}


def test_crop_coverage_is_the_recorded_one_or_the_default(extraction, tmp_path, caplog):
    _, folder = extraction
    assert alignments.crop_coverage(edited(folder, tmp_path, lambda d: d.update(coverage=0.5))) == 0.5
    assert alignments.crop_coverage(tmp_path / "nowhere") == geometry.CROP_COVERAGE
    assert "no alignments file" in caplog.text
    caplog.clear()
    crops = np.zeros((2, 64, 64, 3), np.uint8)  # crops handed over without a folder: extraction's default, quietly
    assert alignments.crop_coverage(crops) == alignments.crop_coverage(None) == geometry.CROP_COVERAGE
    assert not caplog.text
