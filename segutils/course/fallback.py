"""The runs notebooks 06 and 07 need: notebook 05's, or trained here under the same protocol when missing.

On Colab each notebook runs in its own runtime, so notebook 06 finds notebook 05's runs only
when they were kept on Google Drive (what ``course.setup()`` does on Colab). Without them it
trains the missing models itself, with the same ``segutils.training`` calls as notebook 05
(``fine_tune`` when the encoder is pretrained, else ``fit``), and says where it looked.
Course machinery: it was ``segutils.evaluation.fallback``; notebook 06 uses it.
"""

from __future__ import annotations

import tempfile
import warnings
from pathlib import Path

import keras

from .. import config, training
from ..data import load, make_dataset
from ..models import build_model
from ..models.build import EncoderNotPretrainedWarning


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
                 measure_input_wait=False, extra=dict(dataset=str(dataset or info.name), num_classes=info.num_classes))


def runs_for(models, dataset, seeds: int, profile, subset: int | None = None) -> tuple[list[dict], str]:
    """Notebook 05's records of ``models`` x ``seeds`` on ``dataset``, training the missing models here.

    Returns:
        ``(records, note)``: the records sorted by model and seed, and a sentence saying where
        they came from (and, when models were trained here, where the runs were looked for).
    """
    def wanted(record):
        same = str(record.get("config", {}).get("dataset", dataset)) == str(dataset)
        return record.get("model") in models and same and record.get("seed", 0) < seeds

    models = list(models)
    runs = sorted((r for r in training.find_runs(profile.name) if wanted(r)),
                  key=lambda r: (models.index(r["model"]), r.get("seed", 0)))
    missing = [m for m in models if not any(r["model"] == m for r in runs)]
    if not missing:
        return runs, f"{len(runs)} run(s) of notebook 05 from {training.runs_root() / 'train' / profile.name}."
    splits = load(dataset, "train", subset=subset), load(dataset, "val", subset=subset)
    scratch = Path(tempfile.mkdtemp(prefix="nb06-"))
    runs += [train_run(name, seed, splits, profile, scratch / f"{name}-seed{seed}", dataset)
             for name in missing for seed in range(seeds)]
    runs.sort(key=lambda r: (models.index(r["model"]), r.get("seed", 0)))
    return runs, (f"No run of notebook 05 for {missing} on {str(dataset)!r}: trained here in {scratch} with "
                  f"the profile's protocol, as notebook 05 would. {no_runs_advice(profile.name)}")
