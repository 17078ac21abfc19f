"""Every image and video swapface writes with a generated face is labelled, in the standard
formats too (IPTC digital source type in XMP, a signed C2PA manifest), as other tools read them."""

import os

import numpy as np
import pytest

from swapface import figures, media, model, provenance, signing, video, videoio

SOURCE_TYPE = "http://cv.iptc.org/newscodes/digitalsourcetype/trainedAlgorithmicMedia"


def _c2pa_actions(store: dict) -> list[dict]:
    manifest = store["manifests"][store["active_manifest"]]
    return [action for assertion in manifest["assertions"] if assertion["label"].startswith("c2pa.actions")
            for action in assertion["data"]["actions"]]


def _assert_c2pa(path):
    store = provenance.read_c2pa(path)
    assert store is not None, f"{path}: no C2PA manifest"
    assert {"action": "c2pa.created", "digitalSourceType": SOURCE_TYPE}.items() <= _c2pa_actions(store)[0].items()
    codes = {item["code"] for item in store["validation_results"]["activeManifest"]["success"]}
    assert "claimSignature.validated" in codes  # signed with the local key, and the content hash holds
    failures = store["validation_results"]["activeManifest"].get("failure", [])
    assert not [f for f in failures if f["code"] != "signingCredential.untrusted"]  # a local key: untrusted only


@pytest.mark.parametrize("suffix", [".png", ".jpg"])
def test_written_images_carry_xmp_source_type_and_a_c2pa_manifest(obama_frame, tmp_path, suffix):
    image = media.read_image(obama_frame)
    path = provenance.write_image(tmp_path / f"swap{suffix}", image)
    assert provenance.read_label(path) == provenance.LABEL
    xmp = provenance.read_xmp(path)
    assert f'Iptc4xmpExt:DigitalSourceType="{SOURCE_TYPE}"' in xmp
    assert provenance.digital_source_type(path) == SOURCE_TYPE
    _assert_c2pa(path)
    # The labels change no pixel (PNG) and add no second JPEG generation.
    assert np.abs(media.read_image(path).astype(float) - image).mean() < (0.01 if suffix == ".png" else 2)


def test_pillow_reads_our_xmp_as_xmp(obama_frame, tmp_path):
    from PIL import Image

    path = provenance.write_image(tmp_path / "swap.jpg", media.read_image(obama_frame))
    with Image.open(path) as image:
        assert SOURCE_TYPE.encode() in image.info["xmp"]  # Pillow finds it where every reader looks


def test_converted_video_carries_xmp_and_c2pa(data_dir, tmp_path):
    out = tmp_path / "clip.mp4"
    net = model.build("tiny")
    video.convert_video(data_dir / "video" / "obama_silent_b.mp4", out, net, "b", progress=False)
    assert videoio.read_tag(out) == provenance.LABEL
    assert provenance.digital_source_type(out) == SOURCE_TYPE
    _assert_c2pa(out)
    assert sum(1 for _ in videoio.iter_frames(out)) == videoio.video_info(data_dir / "video" / "obama_silent_b.mp4").frames


def test_preview_figure_png_is_labelled_and_a_loss_plot_is_not(tmp_path):
    faces = np.random.default_rng(0).uniform(0, 1, (2, 64, 64, 3)).astype(np.float32)
    preview = figures.save(figures.preview_figure([("a", faces), ("a→b", faces)]), tmp_path / "preview.png")
    assert provenance.read_label(preview) == provenance.LABEL
    assert provenance.digital_source_type(preview) == SOURCE_TYPE
    _assert_c2pa(preview)
    loss = figures.save(figures.loss_figure({"a": [0.3, 0.2], "b": [0.3, 0.25]}), tmp_path / "loss.png")
    assert provenance.digital_source_type(loss) is None  # a plot of numbers is not synthetic media


def test_a_local_key_is_made_once_with_a_private_key_file(tmp_path, monkeypatch, obama_frame):
    monkeypatch.setenv("SWAPFACE_C2PA_DIR", str(tmp_path / "keys"))
    provenance.write_image(tmp_path / "a.jpg", media.read_image(obama_frame))
    key = tmp_path / "keys" / signing.KEY_FILE
    assert key.stat().st_mode & 0o777 == 0o600
    first = key.read_bytes()
    provenance.write_image(tmp_path / "b.jpg", media.read_image(obama_frame))
    assert key.read_bytes() == first
    _assert_c2pa(tmp_path / "b.jpg")


def test_without_c2pa_the_other_labels_remain(obama_frame, tmp_path, monkeypatch):
    import builtins

    real_import = builtins.__import__

    def no_c2pa(name, *args, **kwargs):
        if name == "c2pa":
            raise ImportError("no c2pa here")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_c2pa)
    path = provenance.write_image(tmp_path / "swap.jpg", media.read_image(obama_frame))
    monkeypatch.undo()
    assert provenance.read_c2pa(path) is None
    assert provenance.digital_source_type(path) == SOURCE_TYPE and provenance.read_label(path) == provenance.LABEL


def test_a_users_key_without_its_chain_is_never_replaced(tmp_path, monkeypatch, obama_frame, caplog):
    folder = tmp_path / "mine"
    folder.mkdir()
    (folder / signing.KEY_FILE).write_bytes(b"-----BEGIN PRIVATE KEY-----\nthe user's own\n")
    os.chmod(folder / signing.KEY_FILE, 0o600)
    (folder / "chain.pem").write_bytes(b"misnamed chain")
    monkeypatch.setenv("SWAPFACE_C2PA_DIR", str(folder))
    path = provenance.write_image(tmp_path / "a.jpg", media.read_image(obama_frame))
    assert (folder / signing.KEY_FILE).read_bytes() == b"-----BEGIN PRIVATE KEY-----\nthe user's own\n"
    assert sorted(p.name for p in folder.iterdir()) == ["chain.pem", signing.KEY_FILE]  # nothing made
    assert "left as they are" in caplog.text and provenance.read_c2pa(path) is None
    assert provenance.digital_source_type(path) == SOURCE_TYPE  # the other labels remain


def test_a_shared_folder_keeps_its_mode_and_a_readable_key_is_reported(tmp_path, monkeypatch, obama_frame, caplog):
    shared = tmp_path / "shared"
    shared.mkdir()
    os.chmod(shared, 0o1777)  # like /tmp: everyone writes there
    monkeypatch.setenv("SWAPFACE_C2PA_DIR", str(shared))
    provenance.write_image(tmp_path / "a.jpg", media.read_image(obama_frame))
    assert shared.stat().st_mode & 0o7777 == 0o1777
    assert (shared / signing.KEY_FILE).stat().st_mode & 0o777 == 0o600
    _assert_c2pa(tmp_path / "a.jpg")
    os.chmod(shared / signing.KEY_FILE, 0o644)
    signing._signer_files.cache_clear()  # a new run reads the folder afresh
    provenance.write_image(tmp_path / "b.jpg", media.read_image(obama_frame))
    assert "readable by other users" in caplog.text
