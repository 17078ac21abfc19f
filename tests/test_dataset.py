"""Dataset diagnostics on real aligned faces, with known answers planted."""

import json
import shutil

import pytest

from swapface import cli, dataset, extract


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

    clean = dataset.describe(folders / "trump", progress=False)
    dirty = dataset.describe(mixed, progress=False)
    assert clean["faces"] == 8 and dirty["faces"] == 10
    assert dirty["duplicates"] >= clean["duplicates"] + 1
    assert clean["purity"] == 1.0 and dirty["purity"] < 1.0
    assert 8 in dirty["outliers"]  # the Obama face, ninth in the file


def test_pose_and_light_are_plausible(folders):
    stats = dataset.describe(folders / "obama", progress=False)
    assert len(stats["yaw"]) == 8 and all(abs(y) < 45 for y in stats["yaw"])
    assert all(40 < b < 220 for b in stats["brightness"])
    assert all(b > 10 for b in stats["blur"])


def test_cli_writes_report(folders, tmp_path, capsys):
    assert cli.main(["diagnose", str(folders / "obama"), str(folders / "trump"), "-o", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "obama: 8 faces" in out and "trump: 8 faces" in out
    report = json.loads((tmp_path / "diagnostics.json").read_text())
    assert set(report) == {"obama", "trump"} and (tmp_path / "diagnostics.png").stat().st_size > 10_000
