"""Saving and loading any feasible set: a tree stores its DAG; a counted set stores only its
definition (space, budgets, conventions) and is re-counted exactly on load (well under a second
for the paper's spaces), then checked against the stored fingerprint and size.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from .._core.errors import CorruptFileError
from .._core.fileio import atomic_write
from .tree import FeasibleTree, read_container, write_container


def counted_to_bytes(counted: Any) -> bytes:
    header = dict(counted.meta)
    header.update(kind="counted", space=counted.space.to_dict(), size=str(len(counted)))
    return write_container(header, [])


def save_feasible(feasible: Any, path: str | os.PathLike) -> int:
    """Write a FeasibleTree or CountedSpace atomically; returns the file size in bytes."""
    data = feasible.to_bytes() if isinstance(feasible, FeasibleTree) else counted_to_bytes(feasible)
    atomic_write(path, data)
    return len(data)


def load_feasible(path: str | os.PathLike) -> Any:
    """A FeasibleTree or CountedSpace from a file written by :func:`save_feasible`."""
    from ..cost.options import CostOptions
    from ..space.base import ChainSpace
    from ..targets.base import Target
    from .reduce import reduce_space

    try:
        data = Path(path).read_bytes()
    except FileNotFoundError:
        raise CorruptFileError(f"tree file {str(path)!r} does not exist; create it with "
                               "`entronas reduce SPACE --target T --out FILE`") from None
    header, _ = read_container(data, str(path))
    if header.get("kind", "tree") == "tree":
        return FeasibleTree.from_bytes(data, str(path))
    try:
        space = ChainSpace.from_dict(header["space"])
        target = Target.from_dict(header["target"])
        options = CostOptions.from_dict(header["options"])
    except (KeyError, TypeError, ValueError) as exc:
        raise CorruptFileError(f"{path} is not a valid entronas feasible-set file ({exc}); "
                               "re-run `entronas reduce`") from None
    counted, _ = reduce_space(space, target, options, method="count")
    if counted.meta["fingerprint"] != header.get("fingerprint") or \
            str(len(counted)) != header.get("size"):
        raise CorruptFileError(f"{path} was written by another entronas version (fingerprint or "
                               "size differs); re-run `entronas reduce`")
    return counted
