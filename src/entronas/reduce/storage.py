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


def feasible_to_bytes(feasible: Any) -> bytes:
    """The file bytes of a FeasibleTree or CountedSpace."""
    if isinstance(feasible, FeasibleTree):
        return feasible.to_bytes()
    header = dict(feasible.meta)
    header.update(kind="counted", space=feasible.space.to_dict(), size=str(feasible.size))
    return write_container(header, [])


def save_feasible(feasible: Any, path: str | os.PathLike) -> int:
    """Write a FeasibleTree or CountedSpace atomically; returns the file size in bytes."""
    data = feasible_to_bytes(feasible)
    atomic_write(path, data)
    return len(data)


def feasible_from_bytes(data: bytes, source: str) -> Any:
    """A FeasibleTree or CountedSpace from the bytes :func:`feasible_to_bytes` wrote."""
    from ..cost.options import CostOptions
    from ..space.base import ChainSpace
    from ..targets.base import Target
    from .reduce import reduce_space

    header, _ = read_container(data, source)
    if header.get("kind", "tree") == "tree":
        return FeasibleTree.from_bytes(data, source)
    if header.get("kind") != "counted":
        raise CorruptFileError(f"{source} holds {header.get('kind')!r}, not a feasible set; "
                               "create one with `entronas reduce SPACE --target T --out FILE`")
    try:
        space = ChainSpace.from_dict(header["space"])
        target = Target.from_dict(header["target"])
        options = CostOptions.from_dict(header["options"])
    except (KeyError, TypeError, ValueError) as exc:
        raise CorruptFileError(f"{source} is not a valid entronas feasible-set file ({exc}); "
                               "re-run `entronas reduce`") from None
    counted, _ = reduce_space(space, target, options, method="count")
    if counted.meta["fingerprint"] != header.get("fingerprint") or \
            str(counted.size) != header.get("size"):
        raise CorruptFileError(f"{source} was written by another entronas version (fingerprint "
                               "or size differs); re-run `entronas reduce`")
    return counted


def feasible_definition(data: bytes, source: str) -> tuple[Any, Any, Any]:
    """(space, target, cost options) a feasible-set file was reduced for, from its header."""
    from ..cost.options import CostOptions
    from ..space.base import ChainSpace
    from ..targets.base import Target

    header, _ = read_container(data, source)
    try:
        return (ChainSpace.from_dict(header["space"]), Target.from_dict(header["target"]),
                CostOptions.from_dict(header["options"]))
    except (KeyError, TypeError, ValueError) as exc:
        raise CorruptFileError(f"{source} does not say what it was reduced for ({exc}); "
                               "re-run `entronas reduce ... --out FILE`") from None


def load_feasible(path: str | os.PathLike) -> Any:
    """A FeasibleTree or CountedSpace from a file written by :func:`save_feasible`."""
    try:
        data = Path(path).read_bytes()
    except FileNotFoundError:
        raise CorruptFileError(f"tree file {str(path)!r} does not exist; create it with "
                               "`entronas reduce SPACE --target T --out FILE`") from None
    return feasible_from_bytes(data, str(path))
