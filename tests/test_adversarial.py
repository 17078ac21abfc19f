"""The adversarial term (swapface.adversarial): what the discriminator learns, which weights
each step moves, and that a run with it checkpoints and resumes exactly.

Faces are the aligned White House frames of data/ (8 per person), `tiny` preset, batches of 4.
"""

import dataclasses

import cv2
import keras
import numpy as np
import pytest

from swapface import adversarial, batches, checkpoints, losses, train
from swapface import model as sm

pytestmark = pytest.mark.filterwarnings("ignore:__array__ implementation:DeprecationWarning")
TINY = dataclasses.replace(train.TrainSettings(preset="tiny", batch_size=4, iterations=3, save_every=2, workers=0,
                                               preview_faces=2, precision="float32"),
                           loss=dataclasses.replace(train.RECIPE_LOSS, adversarial=0.1))


@pytest.fixture(scope="module")
def real_faces(aligned) -> np.ndarray:
    """float32 (16, 64, 64, 3) BGR in [0, 1]: both people's aligned faces, at the model's size."""
    faces = np.concatenate([batches.load_faces(folder) for folder in aligned])
    return np.stack([cv2.resize(face, (64, 64), interpolation=cv2.INTER_AREA) for face in faces]).astype(np.float32) / 255


def _weights(part: keras.Model) -> list[np.ndarray]:
    return [np.array(w) for w in part.get_weights()]


def _same(first, second) -> bool:
    return all(np.array_equal(a, b) for a, b in zip(first, second, strict=True))


def test_the_discriminator_learns_to_tell_real_faces_from_blurred_ones(real_faces):
    """What the term is for: soft drawings score lower than real faces once it has trained."""
    keras.utils.set_random_seed(0)
    discriminator = adversarial.new_discriminator(64, "a")
    blurred = np.stack([cv2.GaussianBlur(face, (0, 0), 2.0) for face in real_faces])
    scores = discriminator.output_shape[1:]
    labels = np.concatenate([np.ones((len(real_faces),) + scores), np.zeros((len(blurred),) + scores)]).astype(np.float32)
    for _ in range(60):
        discriminator.train_on_batch(np.concatenate([real_faces, blurred]), labels)
    real, soft = (np.asarray(discriminator.predict_on_batch(x)).mean(axis=(1, 2, 3)) for x in (real_faces, blurred))
    assert (real > soft).all()  # every face scores above its own blurred copy
    assert real.mean() - soft.mean() > 0.2, (real.mean(), soft.mean())  # 1 and 0 are the targets


def test_each_step_moves_only_its_own_networks(real_faces):
    """The discriminator's step leaves the autoencoder alone; the autoencoder's step leaves the
    discriminator (frozen inside the combined model) and the other side's decoder alone."""
    keras.utils.set_random_seed(0)
    net = sm.build("tiny")
    losses.compile_model([net.autoencoder_a, net.autoencoder_b], train.RECIPE_LOSS)
    sides = adversarial.build(net, TINY.loss)
    side = sides["a"]
    faces = real_faces[:4]
    target = np.concatenate([faces, np.full(faces.shape[:3] + (1,), 0.5, np.float32)], axis=-1)  # the face everywhere
    before = {name: _weights(part) for name, part in
              (("d", side.discriminator), ("a", net.decoder_a), ("b", net.decoder_b), ("e", net.encoder))}
    loss = adversarial.step(side, faces, target)
    after = {name: _weights(part) for name, part in
             (("d", side.discriminator), ("a", net.decoder_a), ("b", net.decoder_b), ("e", net.encoder))}
    assert np.isfinite(loss) and loss > 0
    assert not _same(before["d"], after["d"]) and not _same(before["a"], after["a"]) and not _same(before["e"], after["e"])
    assert _same(before["b"], after["b"])  # side b untouched by side a's step
    # The autoencoder's step alone (the discriminator frozen, as `step` does it) leaves it be.
    scores = side.discriminator.output_shape[1:]
    side.discriminator.trainable = False
    side.combined.train_on_batch([faces, adversarial.face_mask(target)], [target, np.ones((4,) + scores, np.float32)])
    side.discriminator.trainable = True
    assert _same(after["d"], _weights(side.discriminator))
    assert side.discriminator.trainable_variables  # thawed again for its own step
    # The autoencoder's Adam is the one the plain step uses: its moments carry on.
    assert side.combined.optimizer is net.autoencoder_a.optimizer


def test_a_run_with_the_term_checkpoints_its_discriminators_and_resumes_exactly(aligned, tmp_path):
    first = train.train(*aligned, tmp_path / "m", TINY, progress=False)
    latest = checkpoints.latest_checkpoint(tmp_path / "m")
    for side in "ab":
        assert all((latest / name).is_file() for name in adversarial.files_of(side))
    assert checkpoints.load_state(tmp_path / "m")["loss"]["adversarial"] == 0.1
    resumed = train.train(*aligned, tmp_path / "m", dataclasses.replace(TINY, iterations=5), progress=False)
    assert resumed["a"][:3] == first["a"]
    # Same batches, weights and Adam states, the discriminators' included: resuming changes nothing
    # (fresh discriminators on resume would give other losses from step 4 on).
    straight = train.train(*aligned, tmp_path / "straight", dataclasses.replace(TINY, iterations=5), progress=False)
    np.testing.assert_allclose(resumed["a"], straight["a"], rtol=1e-4)
    np.testing.assert_allclose(resumed["b"], straight["b"], rtol=1e-4)


def test_the_term_is_refused_under_distribution(aligned, tmp_path):
    with pytest.raises(ValueError, match="adversarial term does not run under --distribute"):
        train.train(*aligned, tmp_path / "m", dataclasses.replace(TINY, distribute=True), progress=False)
