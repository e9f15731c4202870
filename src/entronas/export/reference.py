"""A tiny numpy forward pass over the layer description, and weights in torch layout.

Why: the exporter must be checkable without trusting the code that wrote the flatbuffer. This
pass follows :class:`~entronas.space.layers.Op` literally (channels-first, explicit asymmetric
padding, groups, residual, shortcuts), the same semantics the PyTorch builder implements, and
records every intermediate stage so int8 calibration reads activation ranges from the very
same computation.

Stage names (shared with :mod:`entronas.export.writer`): ``op{k}/pre`` (conv/FC + bias),
``op{k}/act`` (after the activation), ``op{k}/out`` (after the residual addition, i.e. the op
output). ``input`` is the network input.
"""

from __future__ import annotations

import math
from typing import Iterable, Sequence

import numpy as np

from ..space.layers import POOL_KINDS, Op

#: one op with its (BatchNorm-folded) weight in torch layout and bias (None for pooling)
OpWeights = tuple[Op, "np.ndarray | None", "np.ndarray | None"]


def weight_shape(op: Op) -> tuple[int, ...] | None:
    """Torch layout of the op's weight: conv (O, I/g, kh, kw), linear (M, N); None for pooling."""
    if op.kind == "conv2d":
        return (op.out_channels, op.in_channels // op.groups, *op.kernel)
    if op.kind == "linear":
        return (op.out_shape[0], math.prod(op.in_shape))
    return None


def random_weights(ops: Iterable[Op], seed: int = 0) -> list[OpWeights]:
    """Random (He-scaled) folded weights and small biases: a deployment dry run, or tests.

    A conv/linear op gets a bias when its description has one (its own, or the one folding its
    BatchNorm creates), as in a trained model; the scale keeps activations O(1) through deep
    chains, so int8 calibration sees realistic ranges.
    """
    rng = np.random.default_rng(seed)
    out: list[OpWeights] = []
    for op in ops:
        shape = weight_shape(op)
        if shape is None:
            out.append((op, None, None))
            continue
        fan_in = math.prod(shape[1:])
        w = rng.normal(0.0, math.sqrt(2.0 / fan_in), size=shape).astype(np.float32)
        b = rng.normal(0.0, 0.1, size=shape[0]).astype(np.float32)
        out.append((op, w, b if op.bias_terms else None))
    return out


def _gelu(x: np.ndarray) -> np.ndarray:
    from scipy.special import erf

    return 0.5 * x * (1.0 + erf(x / math.sqrt(2.0)))


def _activate(x: np.ndarray, act: str | None) -> np.ndarray:
    if act == "relu":
        return np.maximum(x, 0)
    if act == "relu6":
        return np.clip(x, 0, 6)
    if act == "gelu":
        return _gelu(x)
    if act is not None:  # pragma: no cover - a new activation needs its reference here
        raise ValueError(f"no reference for activation {act!r}")
    return x


def _conv2d(x: np.ndarray, op: Op, w: np.ndarray, b: np.ndarray | None) -> np.ndarray:
    """Grouped 2-D cross-correlation of a (N, C, H, W) batch (torch semantics)."""
    left, right, top, bottom = op.padding
    x = np.pad(x, ((0, 0), (0, 0), (top, bottom), (left, right)))
    n, c, h, wd = x.shape
    kh, kw = op.kernel
    sh, sw = op.stride
    oh, ow = (h - kh) // sh + 1, (wd - kw) // sw + 1
    g = op.groups
    cin_g, cout_g = c // g, op.out_channels // g
    # patches: (N, C, oh, ow, kh, kw)
    patches = np.lib.stride_tricks.sliding_window_view(x, (kh, kw), axis=(2, 3))
    patches = patches[:, :, ::sh, ::sw][:, :, :oh, :ow]
    patches = patches.reshape(n, g, cin_g, oh, ow, kh, kw)
    wg = w.reshape(g, cout_g, cin_g, kh, kw)
    y = np.einsum("ngchwij,gocij->ngohw", patches, wg, optimize=True)
    y = y.reshape(n, op.out_channels, oh, ow)
    if b is not None:
        y = y + b.reshape(1, -1, 1, 1)
    return y


def _pool(x: np.ndarray, op: Op) -> np.ndarray:
    """Max or average over ``op.kernel`` windows at ``op.stride`` ('VALID'), NCHW."""
    (kh, kw), (sh, sw) = op.kernel, op.stride
    _, oh, ow = op.out_shape
    win = np.lib.stride_tricks.sliding_window_view(x, (kh, kw), axis=(2, 3))
    win = win[:, :, :(oh - 1) * sh + 1:sh, :(ow - 1) * sw + 1:sw]
    return win.max(axis=(4, 5)) if op.kind == "max_pool" else win.mean(axis=(4, 5))


def forward(weights: Sequence[OpWeights], x: np.ndarray, *,
            record: bool = False) -> np.ndarray | tuple[np.ndarray, dict[str, np.ndarray]]:
    """Run a batch ``x`` of shape (N, *input_shape) through the ops in float64.

    Returns the output, or ``(output, stages)`` with every named stage when ``record``.
    """
    h = np.asarray(x, dtype=np.float64)
    stages: dict[str, np.ndarray] = {"input": h} if record else {}
    outs: list[np.ndarray] = []   # every op's output; the input before the first

    def output_of(back: int, k: int) -> np.ndarray:
        return outs[k - back] if k - back >= 0 else np.asarray(x, dtype=np.float64)

    for k, (op, w, b) in enumerate(weights):
        inp = output_of(op.source, k)
        if op.kind == "add":
            h = _activate(inp + output_of(op.skip, k), op.activation)
            outs.append(h)
            if record:
                stages[f"op{k}/out"] = h
            continue
        if op.kind == "global_avg_pool" or op.kind in POOL_KINDS:
            h = inp.mean(axis=(2, 3)) if op.kind == "global_avg_pool" else _pool(inp, op)
            outs.append(h)
            if record:
                stages[f"op{k}/out"] = h
            continue
        if op.kind == "conv2d":
            pre = _conv2d(inp, op, np.asarray(w, np.float64), None if b is None else
                          np.asarray(b, np.float64))
        elif op.kind == "linear":
            flat = inp.reshape(inp.shape[0], -1)
            pre = flat @ np.asarray(w, np.float64).T
            if b is not None:
                pre = pre + np.asarray(b, np.float64)
        else:  # pragma: no cover - OP_KINDS is closed
            raise ValueError(op.kind)
        act = _activate(pre, op.activation)
        h = act + inp if op.residual else act
        outs.append(h)
        if record:
            stages[f"op{k}/pre"], stages[f"op{k}/act"], stages[f"op{k}/out"] = pre, act, h
    return (h, stages) if record else h
