"""Atomic file writes: a temp file in the target folder, fsync, then rename.

A reader (or a crashed writer) never sees a half-written result file.
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import IO, Any, Callable


def atomic_write(path: str | os.PathLike, write: Callable[[IO[Any]], None] | bytes | str, *,
                 binary: bool | None = None) -> Path:
    """Write ``path`` atomically; ``write`` is the content or a function that writes to a file."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    if binary is None:
        binary = isinstance(write, (bytes, bytearray)) or not isinstance(write, str) and \
            not callable(write)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".part")
    try:
        with os.fdopen(fd, "wb" if binary else "w") as fh:
            if callable(write):
                write(fh)
            else:
                fh.write(write)
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp, 0o644)  # mkstemp creates 0600
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def atomic_write_json(path: str | os.PathLike, data: Any, *, indent: int = 2) -> Path:
    return atomic_write(path, json.dumps(data, indent=indent, default=str) + "\n")


def atomic_torch_save(path: str | os.PathLike, obj: Any) -> Path:
    """``torch.save`` through a temp file (torch imported by the caller's extra)."""
    import torch

    return atomic_write(path, lambda fh: torch.save(obj, fh), binary=True)
