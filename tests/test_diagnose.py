"""Dataset diagnostics on real aligned faces, with known answers planted."""

import json
import shutil

import cv2
import numpy as np
import pytest

from swapface import cli, diagnose, extract


@pytest.fixture(scope="module")
def folders(tmp_path_factory, data_dir):
    root = tmp_path_factory.mktemp("faces")
    for person in ("obama", "trump"):
        extract.extract([data_dir / person], root / person, progress=False)
    return root


def test_a_planted_duplicate_and_a_wrong_person_are_found(folders, tmp_path):
    mixed = tmp_path / "trump_mixed"
    shutil.copytree(folders / "trump", mixed)
    document = json.loads((mixed / "alignments.json").read_text())
    stranger = json.loads((folders / "obama" / "alignments.json").read_text())["faces"][0]
    shutil.copy(folders / "obama" / stranger["file"], mixed / "stranger.jpg")
    twin = dict(document["faces"][0], file="twin.jpg")
    shutil.copy(mixed / document["faces"][0]["file"], mixed / "twin.jpg")
    document["faces"] += [dict(stranger, file="stranger.jpg"), twin]
    (mixed / "alignments.json").write_text(json.dumps(document))

    clean = diagnose.describe(folders / "trump", progress=False)
    dirty = diagnose.describe(mixed, progress=False)
    assert clean["faces"] == 8 and dirty["faces"] == 10
    assert dirty["duplicates"] >= clean["duplicates"] + 1
    assert clean["purity"] == 1.0 and dirty["purity"] < 1.0
    assert 8 in dirty["outliers"]  # the Obama face, ninth in the file


def test_pose_and_light_are_plausible(folders):
    stats = diagnose.describe(folders / "obama", progress=False)
    assert len(stats["yaw"]) == 8 and all(abs(y) < 45 for y in stats["yaw"])
    assert all(40 < b < 220 for b in stats["brightness"])
    assert all(b > 10 for b in stats["blur"])


def test_cli_writes_report(folders, tmp_path, capsys):
    assert cli.main(["diagnose", str(folders / "obama"), str(folders / "trump"), "-o", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "obama: 8 faces" in out and "trump: 8 faces" in out
    report = json.loads((tmp_path / "diagnostics.json").read_text())
    assert set(report) == {"obama", "trump"} and (tmp_path / "diagnostics.png").stat().st_size > 10_000


def test_two_folders_with_the_same_name_are_both_reported(folders, tmp_path, capsys):
    for run, person in (("run1", "obama"), ("run2", "trump")):
        shutil.copytree(folders / person, tmp_path / run / "faces")
    assert cli.main(["diagnose", str(tmp_path / "run1" / "faces"), str(tmp_path / "run2" / "faces"),
                     "-o", str(tmp_path / "report")]) == 0
    report = json.loads((tmp_path / "report" / "diagnostics.json").read_text())
    assert set(report) == {"run1/faces", "run2/faces"}
    assert report["run1/faces"]["faces"] == 8 and report["run2/faces"]["faces"] == 8
    out = capsys.readouterr().out
    assert "run1/faces: 8 faces" in out and "run2/faces: 8 faces" in out


def test_a_folder_with_no_faces_is_described_not_a_crash(data_dir, tmp_path, capsys):
    wall = tmp_path / "wall"
    wall.mkdir()
    cv2.imwrite(str(wall / "wall.png"), np.full((300, 300, 3), 90, np.uint8))
    assert cli.main(["extract", str(wall), "-o", str(tmp_path / "none")]) == 1  # found nothing, said so
    code = cli.main(["diagnose", str(tmp_path / "none"), "-o", str(tmp_path / "report")])
    out = capsys.readouterr().out
    assert code == 0 and "none: no readable faces" in out
    assert json.loads((tmp_path / "report" / "diagnostics.json").read_text())["none"]["faces"] == 0


@pytest.mark.parametrize("content, problem", [
    ("[]", "a JSON list, expected an object"),
    ('{"version": 1, "size": 256}', "'faces' is missing"),
    ('{"size": 256, "faces": {}}', "'faces' is not a list"),
    ('{"faces": []}', "'size' is missing"),
    ('{"size": 256, "faces": [{"file": "x.jpg"}]}', "face record 0 is malformed"),
    ('{"size": 256, "faces": [{"file": "x.jpg", "source": "x", "landmarks": [1, 2], "matrix": []}]}',
     "face record 0 is malformed"),
    ("{", "corrupt alignments file"),
])
def test_malformed_alignments_are_one_line_naming_the_file(tmp_path, capsys, content, problem):
    folder = tmp_path / "faces"
    folder.mkdir()
    (folder / "alignments.json").write_text(content)
    code = cli.main(["diagnose", str(folder), "-o", str(tmp_path / "report")])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(err) == 1
    assert str(folder / "alignments.json") in err[0] and problem in err[0]
