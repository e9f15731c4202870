"""PyTorch models built from the layer descriptions of a search space.

There is exactly one op -> module translation (:mod:`entronas.models.build`); the resource
model counts the same descriptions, and ``tests/models/test_agreement.py`` checks both agree.
Torch is imported lazily, so ``import entronas.models`` works without it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

__all__ = ["build_model", "fold_batchnorm", "count_parameters", "output_elements", "ChainNet",
           "OpModule"]

if TYPE_CHECKING:  # pragma: no cover
    from .build import (ChainNet, OpModule, build_model, count_parameters, fold_batchnorm,
                        output_elements)


def __getattr__(name: str) -> Any:
    """Import the torch-backed implementation on first use (PEP 562)."""
    if name in __all__:
        from .._core.imports import require

        require("torch", "torch", "building PyTorch models")
        from . import build

        return getattr(build, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
