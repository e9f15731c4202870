"""Training and evaluation of candidate networks (PyTorch, imported lazily).

``train(space, arch, dataset, epochs=...)`` trains one architecture from scratch and returns a
:class:`TrainResult`; ``make_evaluator(space, dataset, ...)`` gives the ``(arch, seed) ->
metrics`` callable the search uses (the data set is moved to the device once).
``import entronas.train`` works without torch; torch is needed when training starts.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .config import (DEFAULT_BATCH_SIZE, DEFAULT_EPOCHS, TrainResult, default_batch_size,
                     default_epochs)

__all__ = ["DEFAULT_BATCH_SIZE", "DEFAULT_EPOCHS", "Evaluator", "TrainResult",
           "default_batch_size", "default_epochs", "make_evaluator", "prepare_data", "train"]

_LAZY = ("Evaluator", "make_evaluator", "prepare_data", "train")

#: lazily imported name -> module
_MODULES = {"Evaluator": "evaluator", "make_evaluator": "evaluator",
            "prepare_data": "data_device", "train": "loop"}

if TYPE_CHECKING:  # pragma: no cover
    from .data_device import prepare_data
    from .evaluator import Evaluator, make_evaluator
    from .loop import train


def __getattr__(name: str) -> Any:
    """Import the torch-backed loop on first use (PEP 562)."""
    if name in _LAZY:
        from .._core.imports import require

        require("torch", "torch", "training")
        import importlib

        return getattr(importlib.import_module(f"{__name__}.{_MODULES[name]}"), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
