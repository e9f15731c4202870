"""Accuracy of the int8 model against float32 on a dataset (for search reports).

Why: PTQ can cost accuracy; a report should show float vs int8 on the same test split, both run
in TFLM (the runtime that ships), calibrated on a training sample.
"""

from __future__ import annotations

from typing import Any, Iterable

import numpy as np

from .._core.arch import Arch
from ..space.base import ChainSpace


def accuracy_int8_vs_float(space: ChainSpace, arch: Arch | Iterable[int],
                           x_test: np.ndarray, y_test: np.ndarray | None = None, *,
                           state_dict: Any = None, x_calib: np.ndarray | None = None,
                           per_channel_fc: bool = False) -> dict[str, float]:
    """Top-1 accuracy of the float32 and int8 TFLite models in TFLM (labels given), plus the
    int8-vs-float output agreement and error; for autoencoders (no labels) the mean squared
    reconstruction error of each."""
    from .report import to_tflite, tflm_outputs
    from .weights import model_weights

    weights, _ = model_weights(space, arch, state_dict)
    x_test = np.asarray(x_test, np.float32)
    calib = x_calib if x_calib is not None else x_test[: min(len(x_test), 256)]
    f32 = tflm_outputs(to_tflite(weights, space, "float32"), x_test)
    i8 = tflm_outputs(to_tflite(weights, space, "int8", calib, per_channel_fc), x_test)
    out = {"max_abs_diff": float(np.abs(i8 - f32).max()), "n": float(len(x_test))}
    if y_test is not None:
        y = np.asarray(y_test).reshape(-1)
        out["accuracy_float32"] = float(np.mean(f32.argmax(1) == y))
        out["accuracy_int8"] = float(np.mean(i8.argmax(1) == y))
        out["top1_agreement"] = float(np.mean(f32.argmax(1) == i8.argmax(1)))
    else:
        flat = x_test.reshape(len(x_test), -1)
        out["mse_float32"] = float(np.mean((f32 - flat) ** 2))
        out["mse_int8"] = float(np.mean((i8 - flat) ** 2))
    return out
