"""The runs notebooks 06 and 07 need: notebook 05's, or trained here under the same protocol when missing.

On Colab each notebook runs in its own runtime, so notebook 06 finds notebook 05's runs only
when they were kept on Google Drive (what ``course.setup()`` does on Colab) or unpacked from
an instructor's kit (``python -m segutils.course.kit build --runs``). Without them it first prints
what retraining costs (:func:`retrain_estimate`, from :mod:`segutils.course.plan`), then trains
only :data:`DEFAULT_MODELS` with one seed unless asked for more, with the same
``segutils.training`` calls as notebook 05 (``fine_tune`` when the encoder is pretrained, else
``fit``), and says where it looked. Course machinery: it was ``segutils.evaluation.fallback``.
"""

from __future__ import annotations

import tempfile
import warnings
from pathlib import Path

import keras

from .. import checks, config, training
from ..data import load, make_dataset
from ..models import build_model
from ..models.build import EncoderNotPretrainedWarning
from ..training.runs import dataset_text
from . import plan

#: What 06 retrains when notebook 05 left no run: the two models of the write-up's question.
DEFAULT_MODELS = ("unet", "linknet")


def no_runs_advice(profile_name: str) -> str:
    """What to do when no run of notebook 05 is found: run it first, in the same place."""
    where = training.runs_root() / "train" / profile_name
    advice = (f"Looked for notebook 05's runs in {where}. To use its runs, run notebook 05 first in the "
              f"{profile_name!r} profile")
    if config.in_colab():
        return advice + (": on Colab each notebook has its own runtime, so run notebook 05 and this one with "
                         "course.setup() in their setup cell, not course.setup(drive=False) (runs then go to Google "
                         "Drive, where this runtime finds them).")
    return advice + f", or point SEGUTILS_RUNS_DIR at the folder that holds its train/{profile_name}/."


def train_run(name: str, seed: int, splits, profile, run_dir=None, dataset=None) -> dict:
    """Train model ``name`` for one seed as notebook 05 does; returns the run record.

    ``splits`` is ``(train, val)`` from ``segutils.data.load``. The model is built by
    ``build_model`` for the profile, compiled by ``training.compile_model`` and trained under
    the profile's ``training.Protocol`` (this seed) with ``training.fine_tune`` when its encoder
    is pretrained, else ``training.fit``, quietly, into ``run_dir``; the record names ``dataset``
    (default: the splits' registry name).
    """
    train_split, val_split = splits
    info = train_split.info
    channels = train_split.images[0].shape[-1] if train_split.images[0].ndim == 3 else 1
    protocol = training.Protocol.from_profile(profile, seed=seed)
    keras.utils.set_random_seed(seed)
    train_ds = make_dataset(train_split, profile.img_size, profile.batch_size, training=True, seed=seed,
                            augment=protocol.augment, repeat=True)
    val_ds = make_dataset(val_split, profile.img_size, profile.batch_size)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", EncoderNotPretrainedWarning)  # the record says encoder_pretrained=False
        model = build_model(name, (profile.img_size, profile.img_size, channels), info.num_classes, profile=profile)
    training.compile_model(model, info.num_classes, ignore_index=info.ignore_index, profile=profile)
    train = training.fine_tune if model.encoder_pretrained else training.fit
    return train(model, train_ds, val_ds, name=name, protocol=protocol, run_dir=run_dir, quiet=True,
                 measure_input_wait=False, extra=dict(dataset=str(dataset or info.name), num_classes=info.num_classes,
                                                      ignore_index=info.ignore_index,
                                                      train_images=len(train_split.images),
                                                      val_images=len(val_split.images)))


def same_dataset(record: dict, dataset) -> bool:
    """Whether a run record was trained on ``dataset``: a folder matches by its absolute path however it was written."""
    return dataset_text(record.get("config", {}).get("dataset", dataset)) == dataset_text(dataset)


def best_run(name: str, profile_name: str, dataset=None) -> dict | None:
    """Notebook 05's run of model ``name`` (on ``dataset`` when given) with the best validation mean IoU, or None."""
    found = [r for r in training.find_runs(profile_name) if r.get("model") == name
             and (dataset is None or same_dataset(r, dataset))]
    return max(found, key=lambda r: r.get("best", {}).get("val_mean_iou") or 0, default=None)


def retrain_estimate(models, seeds: int, profile) -> tuple[float, str]:
    """Seconds the training steps of ``models`` x ``seeds`` take under the profile's budget, and a sentence.

    Each model's seconds per step come from :mod:`segutils.course.plan` (its newest run record in the
    profile, else a few steps measured here); validation and model building come on top.
    """
    steps, policy = config.budget(profile)["steps"], keras.mixed_precision.global_policy()
    per_step = {}
    try:
        for name in models:
            per_step[name] = (plan.recorded_step_seconds(profile.name, name)
                              or plan.measure_step_seconds(profile, name, steps=3)[0])
    finally:
        keras.mixed_precision.set_global_policy(policy)  # the measurement sets float32
    seconds = steps * seeds * sum(per_step.values())
    each = ", ".join(f"{name} {s:.3g} s" for name, s in per_step.items())
    return seconds, (f"Retraining {len(per_step)} model(s) x {seeds} seed(s) x {steps} steps of the {profile.name!r} "
                     f"profile: about {plan.duration(seconds)} of training steps (s/step from course.plan: {each}), "
                     "plus validation.")


def runs_for(models, dataset, seeds: int, profile, subset: int | None = None, retrain_seeds: int = 1,
             retrain_models=DEFAULT_MODELS) -> tuple[list[dict], str]:
    """Notebook 05's records of ``models`` x ``seeds`` on ``dataset``; the missing ones trained here, within limits.

    A model without any run is trained here only when it is in ``retrain_models``, for ``retrain_seeds``
    seeds (default: 1, whatever ``seeds`` says); the estimated time is printed before training starts.

    Returns:
        ``(records, note)``: the records sorted by model and seed, and a sentence saying where
        they came from (and, when models were trained here or left out, where the runs were looked for).
    """
    def wanted(record):
        return record.get("model") in models and same_dataset(record, dataset) and record.get("seed", 0) < seeds

    models, retrain_seeds = list(models), checks.whole(retrain_seeds, "retrain_seeds (RETRAIN_SEEDS)")
    runs = sorted((r for r in training.find_runs(profile.name) if wanted(r)),
                  key=lambda r: (models.index(r["model"]), r.get("seed", 0)))
    missing = [m for m in models if not any(r["model"] == m for r in runs)]
    if not missing:
        return runs, f"{len(runs)} run(s) of notebook 05 from {training.runs_root() / 'train' / profile.name}."
    train_here = [m for m in missing if m in retrain_models]
    left_out = [m for m in missing if m not in retrain_models]
    notes = [f"{len(runs)} run(s) of notebook 05 from {training.runs_root() / 'train' / profile.name}."] if runs else []
    if train_here:
        print(f"No run of notebook 05 for {train_here} on {str(dataset)!r} in the {profile.name!r} profile. "
              + retrain_estimate(train_here, retrain_seeds, profile)[1], flush=True)
        splits = load(dataset, "train", subset=subset), load(dataset, "val", subset=subset)
        scratch = Path(tempfile.mkdtemp(prefix="nb06-"))
        runs += [train_run(name, seed, splits, profile, scratch / f"{name}-seed{seed}", dataset)
                 for name in train_here for seed in range(retrain_seeds)]
        runs.sort(key=lambda r: (models.index(r["model"]), r.get("seed", 0)))
        notes.append(f"No run of notebook 05 for {train_here} on {str(dataset)!r}: trained here in {scratch} with "
                     f"the profile's protocol, as notebook 05 would, {retrain_seeds} seed(s) each.")
    if left_out:
        notes.append(f"No run of notebook 05 for {left_out} on {str(dataset)!r}, and not retrained here (only "
                     f"{list(retrain_models)} are, unless you add them to the retrained models): left out.")
    return runs, " ".join(notes + [no_runs_advice(profile.name)])
