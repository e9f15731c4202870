"""Training defaults and the result record (no torch needed to read either)."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

from .._core.arch import Arch
from ..space.base import ChainSpace

#: The paper's epochs per task (Sec. IV: constant Adam 1e-3): DS-CNN 20, autoencoder 25,
#: ConvMixer / MobileNet 100. ``mlp`` (the offline digits demo) is ours, not the paper's.
DEFAULT_EPOCHS: dict[str, int] = {
    "dscnn": 20,
    "autoencoder": 25,
    "convmixer": 100,
    "mobilenet": 100,
    "mlp": 40,
}

#: Batch sizes of the reference recipes (MLPerf KWS 100, MLPerf AD 512); others use 100.
DEFAULT_BATCH_SIZE: dict[str, int] = {"autoencoder": 512}
FALLBACK_BATCH_SIZE = 100


def default_epochs(space: ChainSpace) -> int:
    """Epochs of the space's backbone (``DEFAULT_EPOCHS``; 20 for backbones not listed)."""
    return DEFAULT_EPOCHS.get(space.backbone, 20)


def default_batch_size(space: ChainSpace) -> int:
    return DEFAULT_BATCH_SIZE.get(space.backbone, FALLBACK_BATCH_SIZE)


@dataclass
class TrainResult:
    """Outcome of one training run.

    Attributes:
        arch: the trained architecture.
        metrics: test metrics ("accuracy" and "val_accuracy" for classification; "auc",
            "pauc", "per_machine" for the anomaly task) plus validation/test losses.
        loss_curve: mean training loss of every completed epoch.
        train_seconds: wall time of the training loop (evaluation excluded).
        samples_per_s: training samples processed per second of ``train_seconds``.
        epochs: completed epochs (fewer than ``epochs_planned`` when interrupted).
        interrupted: training was stopped by KeyboardInterrupt; metrics describe the model
            as it was then.
        state_dict: the final weights, on the CPU.
        bn_recalibrated: BatchNorm statistics were recomputed after training (see train()).
    """

    arch: Arch
    metrics: dict[str, Any]
    loss_curve: list[float]
    train_seconds: float
    samples_per_s: float
    epochs: int
    epochs_planned: int
    interrupted: bool
    seed: int
    device: str
    amp: bool
    batch_size: int
    lr: float
    state_dict: dict[str, Any] = field(default_factory=dict, repr=False)
    bn_recalibrated: bool = False

    @property
    def score_split(self) -> str:
        """Which split :attr:`score` comes from: "val" when the data set has one, else "test"."""
        val = self.metrics.get("val_accuracy", math.nan)
        return "val" if isinstance(val, float) and math.isfinite(val) else "test"

    @property
    def score(self) -> float:
        """The number the search maximises.

        Classification: validation accuracy when the data set has a validation split, so that
        the search never selects on the test split (``metrics["accuracy"]`` stays the test
        accuracy for reporting); test accuracy otherwise. Anomaly detection: the test AUC
        (its validation split has normal clips only, so no AUC exists there).
        """
        if "accuracy" in self.metrics:
            key = "val_accuracy" if self.score_split == "val" else "accuracy"
            return float(self.metrics[key])
        return float(self.metrics.get("auc", math.nan))

    def to_dict(self) -> dict[str, Any]:
        """JSON-able summary (everything but the weights)."""
        return {
            "arch": self.arch.to_dict(), "metrics": self.metrics, "score": self.score,
            "score_split": self.score_split,
            "loss_curve": self.loss_curve, "train_seconds": self.train_seconds,
            "samples_per_s": self.samples_per_s, "epochs": self.epochs,
            "epochs_planned": self.epochs_planned, "interrupted": self.interrupted,
            "seed": self.seed, "device": self.device, "amp": self.amp,
            "batch_size": self.batch_size, "lr": self.lr,
            "bn_recalibrated": self.bn_recalibrated,
        }
