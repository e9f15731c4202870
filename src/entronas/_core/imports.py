"""Optional dependencies: import lazily and fail with the pip command that installs them."""

from __future__ import annotations

import importlib
from types import ModuleType

from .errors import MissingDependencyError


def require(module: str, extra: str, purpose: str = "") -> ModuleType:
    """Import ``module`` or raise one line naming the extra that provides it."""
    try:
        return importlib.import_module(module)
    except ImportError as exc:
        what = f" (needed for {purpose})" if purpose else ""
        raise MissingDependencyError(
            f"{module} is not installed{what}; install it with: pip install 'entronas[{extra}]'"
        ) from exc
