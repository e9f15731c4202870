"""One resolver for a target: a preset name, a target file, a space file's [target], or bare
budgets; then the user's budget and reserve overrides."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from .._core.errors import InvalidParameterError
from .._core.fileio import read_mapping
from .base import Target
from .presets import get_target

FILE_SUFFIXES = (".toml", ".yaml", ".yml", ".json")


def load_target_file(path: str | Path) -> Target:
    """The ``[target]`` section of a TOML/YAML/JSON file (or the whole file)."""
    data = read_mapping(path, label="target file", error=InvalidParameterError)
    section = data.get("target", data)
    if not isinstance(section, dict):
        raise InvalidParameterError(f"target file {str(path)!r}: [target] must be a mapping")
    section = dict(section)
    section.setdefault("name", Path(path).stem)
    return Target.from_dict(section)


def resolve_target(name: str | None, file_target: Target | None = None, *, rom: Any = None,
                   ram: Any = None, flops: Any = None, rom_reserve: Any = None,
                   ram_reserve: Any = None) -> Target:
    """The target a command runs against.

    ``name`` (a preset or a target file) wins over ``file_target`` (a space file's own
    ``[target]``); with neither, the budgets alone make a ``custom`` target (no reserve,
    deployed convention). Overrides replace the budgets and reserves.
    """
    if name is not None:
        if Path(str(name)).suffix in FILE_SUFFIXES:
            base = load_target_file(name)
        else:
            base = get_target(name)
    elif file_target is not None:
        base = file_target
    elif rom is None and ram is None and flops is None:
        raise InvalidParameterError("no budget given; pass --target NAME (see `entronas "
                                    "targets`) and/or --rom/--ram/--flops")
    else:  # the user's own budgets: nothing is overridden
        from .base import parse_amount

        def amt(v: Any, what: str) -> int | None:
            return None if v is None else parse_amount(v, what)

        base = Target("custom", amt(rom, "rom budget"), amt(ram, "ram budget"),
                      amt(flops, "flops budget"))
        rom = ram = flops = None
    return base.with_budgets(rom=rom, ram=ram, flops=flops, rom_reserve=rom_reserve,
                             ram_reserve=ram_reserve)
