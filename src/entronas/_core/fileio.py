"""Atomic file writes: a temp file in the target folder, fsync, then rename.

A reader (or a crashed writer) never sees a half-written result file.
"""

from __future__ import annotations

import json
import os
import sys
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


def read_mapping(path: str | os.PathLike, *, label: str, error: type[Exception],
                 default_format: str = "yaml") -> dict[str, Any]:
    """Parse a .toml / .yaml / .yml / .json settings file into a dict.

    Every failure is one ``error`` line naming the file (and, for YAML, the line), so space
    files and experiment configs report problems the same way.
    """
    path = Path(path)
    if not path.is_file():
        raise error(f"{label} {str(path)!r} does not exist")
    kind = {".toml": "toml", ".yaml": "yaml", ".yml": "yaml", ".json": "json"}.get(
        path.suffix, default_format)
    text = path.read_text()
    try:
        if kind == "toml":
            if sys.version_info >= (3, 11):
                import tomllib
            else:  # pragma: no cover
                import tomli as tomllib
            data = tomllib.loads(text)
        elif kind == "json":
            data = json.loads(text)
        else:
            import yaml

            data = yaml.safe_load(text)
    except Exception as exc:  # noqa: BLE001 - parser errors differ per library
        mark = getattr(exc, "problem_mark", None)
        where = f" (line {mark.line + 1})" if mark is not None else ""
        msg = getattr(exc, "problem", None) or (str(exc).splitlines() or [type(exc).__name__])[0]
        raise error(f"{label} {str(path)!r} is not valid {kind.upper()}: {msg}{where}") from None
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise error(f"{label} {str(path)!r} must hold a mapping of settings, not "
                    f"{type(data).__name__}")
    return data
