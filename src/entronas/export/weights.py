"""Where the exported weights come from: a trained state dict, a PyTorch model, or random.

Why a separate step: the writer only needs ``(op, W, b)`` per op in torch layout with
BatchNorm folded; producing that list from PyTorch (lazy import, optional extra ``torch``) is
kept apart so the writer and its tests run on numpy alone.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Iterable

import numpy as np

from .._core.arch import Arch
from .._core.errors import CorruptFileError
from .._core.imports import require
from ..space.base import ChainSpace
from ..space.layers import Op
from .reference import OpWeights, random_weights


def space_ops(space: ChainSpace, arch: Arch | Iterable[int]) -> list[Op]:
    """All ops of ``arch`` in execution order (searched layers, then the tail)."""
    return [op for layer in space.layers(arch) for op in layer.ops]


def folded_weights(model: Any) -> list[OpWeights]:
    """``(op, W, b)`` per op of a ``ChainNet`` after folding BatchNorm (eval mode, float64).

    The op descriptions are the model's own (``OpModule.desc``), so weights can never be paired
    with a different layer list.
    """
    require("torch", "torch", "reading PyTorch weights")
    from ..models import fold_batchnorm

    out: list[OpWeights] = []
    for mod in fold_batchnorm(model).op_modules():
        if mod.op is None:
            out.append((mod.desc, None, None))
            continue
        w = mod.op.weight.detach().double().numpy()
        b = None if mod.op.bias is None else mod.op.bias.detach().double().numpy()
        out.append((mod.desc, w, b))
    return out


def load_state_dict(path: str | Path) -> dict[str, Any]:
    """A state dict saved with ``torch.save`` (weights only)."""
    torch = require("torch", "torch", "loading a state dict")
    try:
        state = torch.load(str(path), map_location="cpu", weights_only=True)
    except FileNotFoundError:
        raise CorruptFileError(f"state dict {path} does not exist") from None
    except Exception as exc:  # noqa: BLE001 - torch raises many kinds for a damaged file
        reason = str(exc).split(". ")[0].splitlines()[0] if str(exc) else type(exc).__name__
        raise CorruptFileError(f"cannot read state dict {path} ({reason}); it must be a "
                               "torch.save()d state dict, e.g. the weights a search saved for "
                               "its best trial") from None
    if not isinstance(state, dict):
        raise CorruptFileError(f"{path} holds a {type(state).__name__}, not a state dict")
    return state


def model_weights(space: ChainSpace, arch: Arch | Iterable[int],
                  state_dict: dict[str, Any] | str | Path | None = None,
                  seed: int = 0) -> tuple[list[OpWeights], bool]:
    """Folded weights of ``arch`` and whether they are trained (False: random dry run).

    With a state dict, the PyTorch model is built (``entronas.models.build_model``), loaded and
    folded; without one, numpy random weights are used (no torch needed).
    """
    if state_dict is None:
        return random_weights(space_ops(space, arch), seed), False
    require("torch", "torch", "exporting trained weights")
    from ..models import build_model

    if not isinstance(state_dict, dict):
        state_dict = load_state_dict(state_dict)
    model = build_model(space, arch)
    try:
        model.load_state_dict(state_dict)
    except RuntimeError as exc:
        raise CorruptFileError(
            f"state dict does not match {space.name}{list(space.check_arch(arch))}: "
            f"{str(exc).splitlines()[0]}") from None
    return folded_weights(model.eval()), True


def torch_forward(model: Any, x: np.ndarray) -> np.ndarray:
    """Float32 PyTorch output of a channels-first batch (reference for the float32 export)."""
    torch = require("torch", "torch", "running the PyTorch reference")
    with torch.no_grad():
        return model.eval()(torch.as_tensor(np.asarray(x, np.float32))).double().numpy()
