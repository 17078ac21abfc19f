"""Stage 2: train the shared encoder and the two decoders on two folders of aligned faces.

Each step takes a batch of A's faces and one of B's, warped into (input, target) pairs
(`swapface.batches`), and takes one Adam step on autoencoder A with A's pairs and one on
autoencoder B with B's, as the 2017 code did. That loop is `_loop` below; the rest of this
module opens the model, resumes it and saves it (`swapface.checkpoints`), on the devices
and in the precision `swapface.devices` chooses.

MODEL_DIR holds the checkpoints (see `swapface.checkpoints`) and:

    MODEL_DIR/preview.png, loss.png      the latest preview grid and loss plot

Example:
    >>> from swapface.extract import extract
    >>> for person in ("obama", "trump"):
    ...     _ = extract([f"data/{person}"], f"faces/{person}", progress=False)
    >>> settings = TrainSettings(preset="tiny", iterations=3, batch_size=4, workers=0)
    >>> history = train("faces/obama", "faces/trump", "models/ot", settings, progress=False)
    >>> len(history["a"])  # one loss per iteration and side; rerun with more iterations to resume
    3
"""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import logging
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import keras
import numpy as np
from tqdm.auto import tqdm

from swapface import adversarial, batches, checkpoints, devices, figures, geometry, losses, media, trainset, warp
from swapface import growing, model as sm, saving
from swapface.model import FaceSwapModel

log = logging.getLogger(__name__)

PREVIEW_FILE, LOSS_FILE = "preview.png", "loss.png"
RECIPE_LOSS = losses.LossSettings(kind="l1+dssim", masked=True, eye_mouth=3.0)  # see benchmarks/quality.md
MODEL_COVERAGE = 0.8  # new models' coverage: jaw line, cheeks and forehead in view too (quality.md)


@dataclass(frozen=True)
class TrainSettings:
    """How to train. The recipe (loss, mask, coverage, precision) defaults to what won the
    CPU ablation of benchmarks/quality.md; `RECIPE_2017` restores the original choices."""

    preset: str | None = None  # model preset; None: the saved one when resuming, else "original"
    batch_size: int = 64  # faces per side per step, as 2017; 16 is a fair choice on a CPU
    iterations: int = 100_000  # total steps to reach; a resumed run counts from its checkpoint
    save_every: int = 500  # steps between checkpoints (each rewrites ~1.5 GB for "original")
    seed: int = 0  # seeds each batch's augmentation, the held-out faces, fresh weights (Keras' global seed)
    workers: int | None = None  # augmentation processes; None: one per core but one (1-8); 0: inline
    prefetch: int = 2  # batches each worker keeps ready: bounded, so memory stays fixed
    warp_settings: warp.WarpSettings = warp.WarpSettings()  # how training pairs are distorted
    match_colour: bool = False  # 2017 trick: shift A's mean colour onto B's (helps the blend)
    preview_faces: int = 4  # faces per side in preview.png, held out when there are plenty
    freeze_encoder_for: int = 0  # steps with the encoder frozen, when starting from --pretrained
    distribute: bool = False  # tf.distribute: mirrored over local GPUs, multi-worker with TF_CONFIG
    precision: str = "auto"  # devices.choose_policy: float16 on GPUs, float32 on CPUs; "mixed": bf16 on bf16 CPUs
    names: tuple[str, str] | None = None  # the two people; None: saved names, else folder names
    loss: losses.LossSettings = RECIPE_LOSS  # L1 + DSSIM on the face, eyes and mouth weighted (2017: plain MAE)
    coverage: float | None = None  # share of the model's square the mean face spans; None: saved, else MODEL_COVERAGE
    learned_mask: bool = False  # new models: a 4th output channel learns the face's mask (for --mask learned)
    minutes: float | None = None  # stop (and save) after this much training in this sitting; None: no limit


# The 2017 recipe, for `dataclasses.replace(settings, **RECIPE_2017)` (CLI: --recipe-2017).
RECIPE_2017 = {"loss": losses.LossSettings(), "coverage": geometry.COVERAGE_2017, "precision": "float32"}


def batch_settings(settings: TrainSettings, seed: int | None = None) -> batches.BatchSettings:
    """The batch pipeline's share of the training settings (`seed`: the run's saved seed)."""
    return batches.BatchSettings(batch_size=settings.batch_size, seed=settings.seed if seed is None else seed,
                                 workers=settings.workers, prefetch=settings.prefetch,
                                 warp_settings=settings.warp_settings)


# --- Model ---------------------------------------------------------------------------------------

def open_model(model_dir: str | Path, state: dict | None, settings: TrainSettings,
               pretrained: str | Path | None = None) -> FaceSwapModel:
    """The model to train: resumed from MODEL_DIR, else loaded from `pretrained`, else fresh.

    Both optimizers are built for all trainable variables (so freezing the encoder later
    keeps their moments) and, when resuming, loaded. Call inside the strategy's scope.
    """
    model_dir = Path(model_dir)
    if state is not None:
        net = saving.load(checkpoints.latest_checkpoint(model_dir), preset=settings.preset)
    elif pretrained is not None:
        net = start_from(pretrained, settings.preset)
    else:
        keras.utils.set_random_seed(settings.seed)  # same seed, same starting weights
        preset = sm.get_preset(settings.preset or "original")
        net = sm.build(dataclasses.replace(preset, learned_mask=settings.learned_mask))
    coverage = settings.coverage or (net.settings.coverage if state or pretrained else MODEL_COVERAGE)
    net = dataclasses.replace(net, settings=dataclasses.replace(net.settings, coverage=coverage))
    losses.compile_model([net.autoencoder_a, net.autoencoder_b], settings.loss)
    for side in "ab":
        autoencoder = net.autoencoder(side)
        autoencoder.optimizer.build(autoencoder.trainable_variables)
        if state is not None:
            path = checkpoints.latest_checkpoint(model_dir) / checkpoints.OPTIMIZER_FILES[side]
            checkpoints.load_optimizer(checkpoints.inner_optimizer(autoencoder.optimizer),
                                       autoencoder.trainable_variables, path)
    return net


def start_from(pretrained: str | Path, preset: str | None = None) -> FaceSwapModel:
    """The weights a new run starts from: a saved model, grown to `preset` where it is a
    bigger-faced version of the saved one (`growing.grow`: lite -> lite2x), else that preset or
    a ValueError naming both."""
    saved = saving.read_config(pretrained)["settings"]["name"]  # the config alone: no weights loaded to refuse them
    if preset is not None and preset != saved and saved in sm.PRESETS \
            and growing.can_grow(sm.get_preset(saved), sm.get_preset(preset)):
        log.info("growing the %s model of %s into %s", saved, pretrained, preset)
        return growing.grow(saving.load(pretrained), preset)
    return saving.load(pretrained, preset=preset)  # another architecture: ValueError naming both


def set_encoder_frozen(net: FaceSwapModel, frozen: bool) -> None:
    """Freeze (or thaw) the shared encoder, so that only the decoders learn.

    Both autoencoders are recompiled with their own optimizers: a compiled train step keeps
    the variables it was traced with, and reusing the (already built) optimizers keeps
    their Adam moments. Call inside the strategy's scope.
    """
    net.encoder.trainable = not frozen
    for side in "ab":
        autoencoder = net.autoencoder(side)
        autoencoder.compile(optimizer=autoencoder.optimizer, loss=autoencoder.loss)


def _train_on_batch(autoencoder) -> Callable[[np.ndarray, np.ndarray], float]:
    # Keras' own compiled step: the 2017 `train_on_batch`, on any backend.
    return lambda warped, target: float(autoencoder.train_on_batch(warped, target))


def make_steps(net: FaceSwapModel, strategy=None, sides: dict | None = None) -> dict[str, Callable[[np.ndarray, np.ndarray], float]]:
    """{"a": step, "b": step}: step(warped, target) takes one Adam step, returns the batch's loss.

    `sides` (`adversarial.build`) adds the adversarial term: a discriminator step before each.
    """
    if sides is not None:
        return {side: functools.partial(adversarial.step, sides[side]) for side in "ab"}
    if strategy is None:
        return {side: _train_on_batch(net.autoencoder(side)) for side in "ab"}
    return {side: devices.distributed_step(net.autoencoder(side), strategy) for side in "ab"}


def preview_rows(net: FaceSwapModel, inputs_a: np.ndarray, inputs_b: np.ndarray) -> list[tuple[str, np.ndarray]]:
    """The six preview rows for faces of A and B (float32 (N, 64, 64, 3)): originals and swaps."""
    a, b = net.names
    return [(a, inputs_a), (f"{a}→{a}", sm.encode_decode(net, inputs_a, "a")),
            (f"{a}→{b}", sm.encode_decode(net, inputs_a, "b")),
            (b, inputs_b), (f"{b}→{b}", sm.encode_decode(net, inputs_b, "b")),
            (f"{b}→{a}", sm.encode_decode(net, inputs_b, "a"))]


# --- Training -------------------------------------------------------------------------------------

@dataclass
class _Run:
    """What one training session carries from step to step."""

    net: FaceSwapModel
    state: dict  # iteration, losses and the rest of state.json
    model_dir: Path
    previews: tuple[np.ndarray, np.ndarray]  # unwarped held-out faces of A and B, float32 (N, 64, 64, 3)
    strategy: object | None = None  # tf.distribute strategy, or None
    writes: bool = True  # False on non-chief workers of a cluster
    frozen: bool = False  # whether the encoder is frozen now
    saved: int = -1  # iteration of the last checkpoint written (or loaded)
    steps: dict = dataclasses.field(default_factory=dict)
    loss: losses.LossSettings = RECIPE_LOSS  # the loss trained on
    discriminators: dict | None = None  # {"a": .., "b": ..} with the adversarial term, checkpointed too

    def scope(self):
        return self.strategy.scope() if self.strategy is not None else contextlib.nullcontext()

    def set_frozen(self, frozen: bool) -> None:
        """Freeze or thaw the encoder and remake the steps."""
        with self.scope():
            if frozen or self.frozen:
                set_encoder_frozen(self.net, frozen)
                log.info("encoder %s at iteration %d", "frozen" if frozen else "thawed", self.state["iteration"])
            sides = None if self.discriminators is None else \
                adversarial.build(self.net, self.loss, self.discriminators)
            self.steps = make_steps(self.net, self.strategy, sides)
        self.frozen = frozen

    def save(self) -> None:
        """Checkpoint, preview.png and loss.png, unless this iteration is already saved."""
        iteration = self.state["iteration"]
        if iteration == self.saved:
            return
        # Every worker of a cluster decodes the preview: under a multi-worker strategy a
        # prediction is a collective op, and a chief predicting alone would wait forever.
        rows = preview_rows(self.net, *self.previews)
        if not self.writes:
            self.saved = iteration
            return
        # Trim: a Ctrl-C between the two sides' steps may have left one loss too many.
        state = {**self.state, "losses": {side: self.state["losses"][side][:iteration] for side in "ab"}}
        extra = None if self.discriminators is None else functools.partial(adversarial.save, self.discriminators)
        checkpoints.save_checkpoint(self.net, self.model_dir, state, extra)
        self.saved = iteration
        preview = figures.preview_figure(rows, title=f"iteration {iteration}")
        figures.save(preview, self.model_dir / PREVIEW_FILE)
        figures.save(figures.loss_figure(state["losses"], self.net.names), self.model_dir / LOSS_FILE)


@dataclass
class Budget:
    """A sitting's time limit: "train for half an hour" as one setting.

    The clock starts with the first step (loading faces and building the model are not
    training). After `WARMUP` steps (the first ones trace and compile) it times the next
    `MEASURED` and logs the rate and what the budget buys, so a learner knows at once.
    """

    minutes: float  # the sitting's training time
    start_iteration: int  # where the sitting began
    WARMUP = 3  # steps left out of the rate (class constant): the first ones trace and compile
    MEASURED = 10  # steps timed for the rate (class constant)
    start: float | None = None  # clock() at the first step
    measure_from: float | None = None  # clock() after the warm-up
    expected: int | None = None  # the iteration the budget should reach, once the rate is measured
    clock = staticmethod(time.monotonic)  # seconds (class attribute): a test may set a clock of its own

    def spent(self, iteration: int) -> bool:
        """Whether the budget is used up after `iteration`, measuring the rate on the way."""
        now = self.clock()
        done = iteration - self.start_iteration
        if self.start is None:
            self.start = now
        elif done == self.WARMUP:
            self.measure_from = now
        elif done == self.WARMUP + self.MEASURED and self.measure_from is not None:
            rate = self.MEASURED / max(now - self.measure_from, 1e-9)
            more = rate * max(self.minutes * 60 - (now - self.start), 0)  # steps the time left buys
            self.expected = int(iteration + more)
            log.info("measured %.2f steps/s: %g minutes buy about %d steps, to iteration %d",
                     rate, self.minutes, done + more, iteration + more)
        return now - self.start >= self.minutes * 60


def _loop(run: _Run, stream: batches.BatchStream, settings: TrainSettings, progress: bool, callback=None) -> None:
    state, losses = run.state, run.state["losses"]
    budget = Budget(settings.minutes, state["iteration"]) if settings.minutes is not None else None
    # Under a time budget the step count is not the end: the bar's total is the budget's
    # estimate, once it has measured the rate.
    bar = tqdm(total=settings.iterations if budget is None else None, initial=state["iteration"], unit="step",
               desc="train", disable=not progress, dynamic_ncols=True)
    if state["iteration"] >= settings.iterations:
        log.info("already at iteration %d of %d: nothing to do", state["iteration"], settings.iterations)
    try:
        while state["iteration"] < settings.iterations:
            if budget is not None and budget.spent(state["iteration"]):
                log.info("%g minutes of training spent at iteration %d: saving", settings.minutes, state["iteration"])
                break
            if budget is not None and budget.expected is not None and bar.total is None:
                bar.total = min(settings.iterations, budget.expected)
                bar.refresh()
            if run.frozen and state["iteration"] >= state["frozen_until"]:
                run.set_frozen(False)
            warped_a, target_a, warped_b, target_b = next(stream)
            loss_a = run.steps["a"](warped_a, target_a)
            loss_b = run.steps["b"](warped_b, target_b)
            losses["a"].append(loss_a)
            losses["b"].append(loss_b)
            state["iteration"] += 1
            bar.update()
            if callback is not None:
                callback(run.net, state["iteration"])
            bar.set_postfix(loss_a=f"{loss_a:.4f}", loss_b=f"{loss_b:.4f}", refresh=False)
            if state["iteration"] % settings.save_every == 0:
                run.save()
    except KeyboardInterrupt:
        log.warning("interrupted at iteration %d: saving a checkpoint", state["iteration"])
        run.save()
        raise
    finally:
        bar.close()
    run.save()


def train(faces_a, faces_b, model_dir: str | Path, settings: TrainSettings = TrainSettings(),
          pretrained: str | Path | None = None, progress: bool = True,
          callback: Callable[[FaceSwapModel, int], None] | None = None) -> dict[str, list[float]]:
    """Train the A/B model into MODEL_DIR, or resume it from its latest checkpoint.

    `faces_a` and `faces_b` are folders from `swapface extract` (or uint8 (N, S, S, 3) arrays).
    Runs until `settings.iterations` steps in all (or `settings.minutes` of training in this
    call), checkpointing every `save_every` steps, at the end, and on Ctrl-C (which is then re-raised). `pretrained` (a saved model folder)
    seeds a new run's weights. Returns {"a": [...], "b": [...]}: the loss of every step since
    the run began, resumed sessions included. A script calling it with worker processes must
    do so under `if __name__ == "__main__":` (they are spawned and import the script).
    `callback(net, iteration)`, if given, runs after every step (live plots, checks).
    """
    model_dir = Path(model_dir)
    # Non-chief workers of a cluster write nothing, and may share the chief's folder. SIGTERM
    # (a scheduler, a cloud machine shutting down) saves a checkpoint, as Ctrl-C does.
    with checkpoints.exclusive(model_dir) if devices.is_chief() else contextlib.nullcontext(), media.sigterm_as_interrupt():
        return _train(faces_a, faces_b, model_dir, settings, pretrained, progress, callback)


def _train(faces_a, faces_b, model_dir: Path, settings: TrainSettings, pretrained, progress: bool,
           callback) -> dict:
    if settings.distribute and settings.loss.adversarial:
        raise ValueError("the adversarial term does not run under --distribute: train without one of them")
    trainset.check(faces_a, faces_b, model_dir, settings.names)
    state = checkpoints.load_state(model_dir)
    checkpoints.check_model_dir(model_dir, state)
    checkpoints.check_sources(model_dir, state, faces_a, faces_b, settings.names)  # A and B not swapped
    resumed = state is not None
    if resumed:
        log.debug("resuming %s from iteration %d", model_dir, state["iteration"])  # the CLI says so on stdout
        if pretrained is not None:
            log.warning("resuming %s: --pretrained %s is ignored", model_dir, pretrained)
        if settings.seed != state["seed"]:
            log.warning("resuming with the saved seed %d, not %d", state["seed"], settings.seed)
        pretrained = None
    elif settings.freeze_encoder_for and pretrained is None:
        log.warning("--freeze-encoder needs --pretrained weights: a fresh encoder is not frozen")
    names = tuple(settings.names or (state["names"] if resumed else trainset.side_names((faces_a, faces_b))))
    # The weight channel serves the masked loss and the learned mask's target (of a saved model too).
    start = checkpoints.latest_checkpoint(model_dir) if resumed else pretrained
    masked = settings.loss.masked or settings.learned_mask or \
        bool(start and saving.read_config(start)["settings"].get("learned_mask"))
    faces = [trainset.load(source, masked) for source in (faces_a, faces_b)]
    strategy = devices.checked_strategy(settings.batch_size) if settings.distribute else None
    precision = devices.choose_policy(settings.precision)
    log.debug("training in %s", precision)  # the CLI says it in its own words
    with strategy.scope() if strategy is not None else contextlib.nullcontext(), devices.policy(precision):
        net = open_model(model_dir, state, settings, pretrained)
    net = dataclasses.replace(net, names=names)
    view = trainset.view(settings.warp_settings, net.settings.image_size, net.settings.coverage, faces_a)
    settings = dataclasses.replace(settings, warp_settings=view)
    if state is None:
        checkpoints.record_sources(model_dir, faces_a, faces_b)
    state = state or checkpoints.new_state(settings.seed, pretrained, settings.freeze_encoder_for)
    loss = dataclasses.asdict(settings.loss)
    # Keys added since a run began (adversarial) take their defaults: that run trained without them.
    if {**dataclasses.asdict(losses.LossSettings()), **state.get("loss", loss)} != loss:  # allowed, never silent
        log.warning("resuming with loss %s; the run so far used %s", loss, state["loss"])
    state.update(names=list(names), preset=net.settings.name, batch_size=settings.batch_size, loss=loss)
    (train_a, preview_a), (train_b, preview_b) = (trainset.split(f, settings.preview_faces, view, state["seed"])
                                                  for f in faces)
    discriminators = None
    if settings.loss.adversarial:
        with devices.policy(precision):
            discriminators = adversarial.open_discriminators(net.settings.image_size, start if resumed else None)
    run = _Run(net, state, model_dir, (preview_a, preview_b), strategy,
               writes=strategy is None or devices.is_chief(), saved=state["iteration"] if resumed else -1,
               loss=settings.loss, discriminators=discriminators)
    run.set_frozen(state["iteration"] < state["frozen_until"])
    shift = batches.colour_shift(train_a, train_b) if settings.match_colour else None
    with batches.BatchStream(train_a, train_b, batch_settings(settings, state["seed"]), start=state["iteration"],
                             shift=shift) as stream:
        _loop(run, stream, settings, progress, callback)
    return {side: list(state["losses"][side][:state["iteration"]]) for side in "ab"}
