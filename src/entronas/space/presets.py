"""Built-in search spaces: every preset is a space file shipped in ``entronas/space/files``.

One mechanism for presets and users: a preset is read by the same loader as a user's
``--space my_space.toml`` (:func:`entronas.space.config.load_space_file`), so whatever a
preset can express, a user's file can, and ``entronas spaces --show NAME`` prints the file to
start from. The registry is the directory: a file ``NAME.toml`` whose ``[space]`` is named
``NAME`` and carries a one-line ``description``. :func:`register_space` stays for plug-ins
that build a space in Python.
"""

from __future__ import annotations

from functools import lru_cache
from importlib.resources import files
from pathlib import Path
from typing import Any, Callable

from .._core.errors import InvalidSpaceError
from .._core.registry import Registry
from .base import ChainSpace

#: Space factories by name; each takes keyword overrides of ChainSpace fields / options.
SPACES: Registry[Callable[..., ChainSpace]] = Registry("space", "entronas spaces")

#: One-line descriptions for `entronas spaces`.
DESCRIPTIONS: dict[str, str] = {}

#: where the built-in presets live (package data)
PRESET_DIR = files("entronas.space") / "files"


def register_space(name: str, description: str) -> Callable:
    """Register a Python factory ``(**overrides) -> ChainSpace`` under ``name`` (plug-ins)."""
    def wrap(factory: Callable[..., ChainSpace]) -> Callable[..., ChainSpace]:
        DESCRIPTIONS[name] = description
        return SPACES.register(name, factory)

    return wrap


@lru_cache(maxsize=None)
def _load_preset(path: Path) -> ChainSpace:
    from .config import load_space_file

    space, _ = load_space_file(path)
    return space


class PresetFile:
    """The factory of one shipped space file: the file's space, with overrides applied."""

    def __init__(self, filename: str) -> None:
        self.filename = filename

    @property
    def path(self) -> Path:
        return Path(str(PRESET_DIR / self.filename))

    def __call__(self, **overrides: Any) -> ChainSpace:
        space = _load_preset(self.path)
        return space.with_options(**overrides) if overrides else space


def _register_preset_files() -> None:
    from .._core.fileio import read_mapping

    for entry in sorted(PRESET_DIR.iterdir(), key=lambda e: e.name):
        if not entry.name.endswith(".toml"):
            continue
        head = read_mapping(str(entry), label="preset file",
                            error=InvalidSpaceError).get("space", {})
        register_space(head.get("name", entry.name[:-5]),
                       head.get("description", ""))(PresetFile(entry.name))


_register_preset_files()


def preset_file(name: str) -> Path | None:
    """The shipped space file of a built-in preset (None: a plug-in registered in Python)."""
    factory = SPACES.get(name)
    return factory.path if isinstance(factory, PresetFile) else None


def get_space(preset: str, /, **overrides: Any) -> ChainSpace:
    """A registered space by name, with optional field/option overrides (``name=`` renames it:
    a space file with ``preset`` and ``name`` is a preset under a name of its own)."""
    return SPACES.get(preset)(**overrides)


def list_spaces(pattern: str = "*") -> list[str]:
    return SPACES.names(pattern)
