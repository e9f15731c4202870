"""int8 post-training quantisation per the TFLite quantisation spec.

Why our own PTQ: the direct writer needs no TensorFlow; the rules are short and measured to give
the same numerics as TF's converter (``../shared/reference/deploy.md``, section 2).

* activations: asymmetric int8, per tensor, from min/max over calibration inputs (range widened
  to contain 0, so zero padding and ReLU's 0 are exact);
* conv / depthwise weights: symmetric int8 in [-127, 127], **per output channel**;
* fully connected weights: symmetric int8, **per tensor** by default (per-channel FC costs
  ~+42 kB ROM and ~+17 kB arena for the MLPerf AE in TFLM, see deploy.md); ``per_channel_fc``
  switches to per-channel;
* biases: int32, zero point 0, scale = input_scale * weight_scale (per channel).
"""

from __future__ import annotations

from typing import Sequence

import numpy as np

from .reference import OpWeights, forward

INT8_MIN, INT8_MAX = -128, 127


def activation_qparams(lo: float, hi: float) -> tuple[float, int]:
    """(scale, zero_point) of an asymmetric int8 tensor covering [lo, hi] and 0."""
    lo, hi = min(float(lo), 0.0), max(float(hi), 0.0)
    if hi - lo < 1e-6:
        # a tensor that was 0 on every calibration input (a ReLU that never fired): any scale
        # holds it exactly, but TFLM's int8 ADD needs its output scale above ~2e-6 x its input
        # scales, or it aborts in Prepare (found by benchmarks/fit_tflm.py); so a span of 1
        hi = lo + 1.0
    scale = (hi - lo) / (INT8_MAX - INT8_MIN)
    zp = int(round(INT8_MIN - lo / scale))
    return scale, int(np.clip(zp, INT8_MIN, INT8_MAX))


def quantize_activation(x: np.ndarray, scale: float, zp: int) -> np.ndarray:
    return np.clip(np.round(np.asarray(x) / scale) + zp, INT8_MIN, INT8_MAX).astype(np.int8)


def dequantize(q: np.ndarray, scale: float, zp: int) -> np.ndarray:
    return (np.asarray(q, np.float64) - zp) * scale


def symmetric_weights(w: np.ndarray, axis: int | None) -> tuple[np.ndarray, np.ndarray]:
    """int8 weights in [-127, 127] and their scales (one per index of ``axis``, or one)."""
    w = np.asarray(w, np.float64)
    if axis is None:
        amax = np.array([np.abs(w).max()])
    else:
        amax = np.abs(np.moveaxis(w, axis, 0)).reshape(w.shape[axis], -1).max(axis=1)
    scales = np.where(amax > 0, amax / 127.0, 1.0)
    shape = [1] * w.ndim
    if axis is not None:
        shape[axis] = -1
    q = np.clip(np.round(w / scales.reshape(shape)), -127, 127).astype(np.int8)
    return q, scales


def int32_bias(b: np.ndarray, input_scale: float, weight_scales: np.ndarray) -> np.ndarray:
    """Bias quantised with scale ``input_scale * weight_scale`` (broadcast per channel)."""
    bias_scales = input_scale * np.broadcast_to(weight_scales, np.shape(b))
    return np.clip(np.round(np.asarray(b, np.float64) / bias_scales),
                   -(2**31), 2**31 - 1).astype(np.int32)


def calibrate(weights: Sequence[OpWeights], x: np.ndarray,
              batch: int = 256) -> dict[str, tuple[float, float]]:
    """min/max of every recorded stage of :func:`~entronas.export.reference.forward`."""
    ranges: dict[str, tuple[float, float]] = {}
    x = np.asarray(x)
    for start in range(0, len(x), batch):
        _, stages = forward(weights, x[start:start + batch], record=True)
        for name, v in stages.items():
            lo, hi = float(v.min()), float(v.max())
            if name in ranges:
                lo, hi = min(lo, ranges[name][0]), max(hi, ranges[name][1])
            ranges[name] = (lo, hi)
    return ranges
