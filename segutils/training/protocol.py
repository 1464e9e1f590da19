"""The comparison's protocol: the settings that must be equal for a fair comparison, in every run record.
Taught in ``notebooks/05_training.ipynb``."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field

from .. import checks, config
from ..data.augment import AugmentConfig

MONITOR = "val_mean_iou"
LR_FACTOR, MIN_LR = 0.5, 1e-6  # ReduceLROnPlateau: halve the rate on a plateau, never below MIN_LR
BATCHNORM_POLICIES = ("frozen", "train")


@dataclass(frozen=True)
class Protocol:
    """How one model of a comparison trains; :meth:`from_profile` fills it from a profile.

    Attributes:
        epochs, steps_per_epoch: the budget, ``epochs * steps_per_epoch`` steps on a repeating training set.
        lr: the learning rate (one phase, and ``fine_tune``'s frozen phase 1); ``fine_tune_lr``: its phase 2.
        patience, lr_patience: epochs without a better ``val_mean_iou`` before stopping, before the rate is
            halved (None: never).
        frozen_epochs: ``fine_tune``'s phase 1, within the budget.
        batchnorm: a pretrained encoder's BatchNorm in phase 2, ``"frozen"`` (inference mode) or ``"train"``.
        augment: the training set's augmentation (``make_dataset(..., augment=)``); seed: the run's seed.
    """

    profile: str
    epochs: int
    steps_per_epoch: int
    lr: float = 1e-3
    patience: int | None = 5
    lr_patience: int | None = 3
    frozen_epochs: int = 1
    fine_tune_lr: float = 1e-4
    batchnorm: str = "frozen"
    augment: AugmentConfig = field(default_factory=AugmentConfig)
    seed: int = 0

    def __post_init__(self):
        config.get(self.profile)
        if self.steps_per_epoch is None:
            raise ValueError("Protocol.steps_per_epoch is None: the budget is counted in optimizer steps, so it "
                             "needs a whole number; repeat the training set with make_dataset(..., repeat=True)")
        for name in ("epochs", "steps_per_epoch", "patience", "lr_patience", "frozen_epochs"):
            checks.whole(getattr(self, name), f"Protocol.{name}", none_ok=name.endswith("patience"))  # None: never
        if self.batchnorm not in BATCHNORM_POLICIES:
            raise ValueError(f"Protocol.batchnorm must be one of {BATCHNORM_POLICIES}, got {self.batchnorm!r}")

    @classmethod
    def from_profile(cls, profile: config.Profile | None = None, **changes) -> Protocol:
        """The profile's protocol (default: the active one) with ``changes``; ``fine_tune`` freezes for a third
        of the epochs, then trains at a tenth of the rate."""
        profile = profile or config.active()
        epochs = changes.get("epochs", profile.epochs)
        base = cls(profile.name, profile.epochs, profile.steps_per_epoch, lr=profile.lr, patience=profile.patience,
                   lr_patience=profile.lr_patience, frozen_epochs=max(1, epochs // 3), fine_tune_lr=profile.lr / 10)
        return dataclasses.replace(base, **changes)

    def as_dict(self, batch_size: int, image_size: list[int], loss: str, optimizer: str, phases: list[str]) -> dict:
        """The flat dict a run record keeps as ``protocol``, with what the run saw (batch, size, loss, optimizer)."""
        steps = self.epochs * self.steps_per_epoch
        in_steps = lambda epochs: None if epochs is None else epochs * self.steps_per_epoch  # noqa: E731
        augment = ", ".join(f"{k}={v}" for k, v in dataclasses.asdict(self.augment).items())
        return dict(profile=self.profile, budget_steps=steps, budget_images=steps * batch_size, epochs=self.epochs,
                    steps_per_epoch=self.steps_per_epoch, batch_size=batch_size, image_size=list(image_size),
                    monitor=MONITOR, patience_epochs=self.patience, patience_steps=in_steps(self.patience),
                    lr_schedule=f"ReduceLROnPlateau(factor={LR_FACTOR}, min_lr={MIN_LR})",
                    lr_patience_epochs=self.lr_patience, lr_patience_steps=in_steps(self.lr_patience),
                    optimizer=optimizer, lr=self.lr, frozen_epochs=self.frozen_epochs, fine_tune_lr=self.fine_tune_lr,
                    batchnorm=self.batchnorm, loss=loss, augmentation=augment, seed=self.seed, phases=list(phases))


def protocol_differences(first: dict, second: dict) -> dict:
    """``{key: (first's, second's)}`` for every protocol key but ``phases`` on which two run records differ."""
    a, b = first.get("protocol"), second.get("protocol")
    if a is None or b is None:
        missing = first if a is None else second
        raise ValueError(f"run {missing.get('name', '?')!r} has no protocol: it was trained before protocols were "
                         "recorded; train it again with segutils.training.fit or fine_tune")
    return {k: (a.get(k), b.get(k)) for k in sorted(set(a) | set(b)) if k != "phases" and a.get(k) != b.get(k)}


def same_protocol(first: dict, second: dict) -> bool:
    """Whether two run records were trained under equal protocols (every key but ``phases``)."""
    return not protocol_differences(first, second)
