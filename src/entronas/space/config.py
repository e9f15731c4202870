"""User-defined spaces and targets from a TOML or YAML file, validated with one-line errors.

Example (TOML)::

    [space]
    name = "my-dscnn"
    backbone = "dscnn"            # or: preset = "dscnn-kws" and only the fields to change
    depth = [6, 8]
    widths = { lo = 84, step = 28, count = 8 }   # or an explicit list [84, 112, ...]
    input_shape = [1, 49, 10]
    num_classes = 12
    monotone = "non-increasing"   # optional
    [space.options]
    first_kernel = [10, 4]

    [target]                      # optional
    name = "my-board"
    rom = "1MB"
    ram = "256KiB"
    flops = "20M"
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from .._core.errors import EntronasError, InvalidSpaceError
from .._core.fileio import read_mapping
from .base import BACKBONES, ChainSpace, is_int, width_grid
from .presets import SPACES, get_space

SPACE_KEYS = {"name", "description", "backbone", "preset", "depth", "widths", "layer_widths",
              "monotone", "input_shape", "num_classes", "options", "blocks", "search"}


def read_config_file(path: str | Path) -> dict[str, Any]:
    """Parse a .toml / .yaml / .yml / .json space file into a dict (errors name the file)."""
    if Path(path).suffix not in (".toml", ".yaml", ".yml", ".json"):
        raise InvalidSpaceError(f"{path}: unknown file type {Path(path).suffix!r}; use .toml, "
                                ".yaml or .json")
    return read_mapping(path, label="space file", error=InvalidSpaceError)


#: the largest width / input extent a space may name (TFLite tensor dimensions are int32)
MAX_EXTENT = 2**31 - 1
#: the deepest network a space may describe (deeper is a typo or an oversized job)
MAX_DEPTH = 1024
#: the most widths one layer's grid may list (a bigger grid is a typo or an oversized job)
MAX_GRID = 4096


def _int(value: Any, where: str, key: str, *, lo: int = 1, hi: int = MAX_EXTENT) -> int:
    """A whole number from a space file; floats (64.0, 1e20, inf, nan) are refused, not cast."""
    if not is_int(value) or not lo <= value <= hi:
        raise InvalidSpaceError(f"{where}: {key} has {value!r}; it takes whole numbers in "
                                f"{lo}..{hi:,} (no decimal point)")
    return value


def parse_grid(values: Any, where: str, key: str) -> tuple[int, ...]:
    if isinstance(values, dict):
        missing = {"lo", "step", "count"} - set(values)
        if missing or set(values) - {"lo", "step", "count"}:
            raise InvalidSpaceError(f"{where}: {key} as a table needs exactly lo, step and "
                                    f"count, got {sorted(values)}")
        count = _int(values["count"], where, f"{key}.count", hi=MAX_GRID)
        step = _int(values["step"], where, f"{key}.step")
        lo = _int(values["lo"], where, f"{key}.lo")
        _int(lo + step * (count - 1), where, f"{key} (largest)")
        return width_grid(lo, step, count)
    if not isinstance(values, (list, tuple)) or not values:
        raise InvalidSpaceError(f"{where}: {key} must be a non-empty list of whole numbers "
                                f"(or {{ lo, step, count }}), got {values!r}")
    if len(values) > MAX_GRID:
        raise InvalidSpaceError(f"{where}: {key} lists {len(values):,} values; at most "
                                f"{MAX_GRID:,}")
    return tuple(_int(v, where, key) for v in values)


def _block_widths(blocks: Any, where: str) -> tuple[int, ...]:
    """The default grid of a blocks space that names none: every block's own widths, joined
    (so a file whose blocks all carry ``widths`` needs no top-level ``widths``)."""
    grids = [b.get("widths") if isinstance(b, dict) else None
             for b in (blocks if isinstance(blocks, (list, tuple)) else ())]
    if not grids or any(g is None for g in grids):
        raise InvalidSpaceError(f"{where}: missing key 'widths' (the grid of every block that "
                                "gives no widths of its own)")
    return tuple(sorted({w for j, g in enumerate(grids)
                         for w in parse_grid(g, where, f"blocks[{j + 1}].widths")}))


def space_from_dict(data: dict[str, Any], where: str = "space") -> ChainSpace:
    """Build a ChainSpace from a config mapping (preset + overrides, or a full definition).

    ``description`` is a one-line note for people (`entronas spaces` shows a preset's); it is
    not part of the space, so it changes no fingerprint.
    """
    data = dict(data)
    description = data.pop("description", "")
    if not isinstance(description, str) or "\n" in description:
        raise InvalidSpaceError(f"{where}: description must be one line of text, got "
                                f"{description!r}")
    if "search" in data:   # named dimensions (entronas.space.dimensions)
        from .dimensions import space_from_search

        return space_from_search(data, where)
    unknown = set(data) - SPACE_KEYS
    if unknown:
        raise InvalidSpaceError(f"{where}: unknown key(s) {sorted(unknown)}; allowed: "
                                f"{sorted(SPACE_KEYS)}")
    overrides: dict[str, Any] = {}
    try:
        if "depth" in data:
            depth = data["depth"]
            if not isinstance(depth, (list, tuple)):
                lo = hi = depth
            elif len(depth) == 2:
                lo, hi = depth
            else:
                raise InvalidSpaceError(f"{where}: depth {depth!r} must be N or [min, max]")
            overrides.update(depth_min=_int(lo, where, "depth", hi=MAX_DEPTH),
                             depth_max=_int(hi, where, "depth", hi=MAX_DEPTH))
        if "widths" in data:
            overrides["widths"] = parse_grid(data["widths"], where, "widths")
        if data.get("layer_widths") is not None:
            if not isinstance(data["layer_widths"], (list, tuple)):
                raise InvalidSpaceError(f"{where}: layer_widths must be a list of grids, one "
                                        "per layer")
            overrides["layer_widths"] = tuple(parse_grid(g, where, f"layer_widths[{i}]")
                                              for i, g in enumerate(data["layer_widths"]))
        for key in ("name", "backbone", "monotone"):
            if key in data:
                overrides[key] = data[key]
        if "input_shape" in data:
            overrides["input_shape"] = parse_grid(data["input_shape"], where, "input_shape")
        if "num_classes" in data:
            overrides["num_classes"] = _int(data["num_classes"], where, "num_classes", lo=0)
        if "options" in data:
            if not isinstance(data["options"], dict):
                raise InvalidSpaceError(f"{where}: options must be a table of name = value, "
                                        f"got {data['options']!r}")
            overrides["options"] = {k: tuple(v) if isinstance(v, list) else v
                                    for k, v in data["options"].items()}
        if "blocks" in data:   # a backbone written in the file (entronas.space.blocks)
            overrides.setdefault("options", {})["blocks"] = data["blocks"]
            if "preset" not in data:
                overrides.setdefault("backbone", "blocks")
                if "widths" not in data:
                    overrides["widths"] = _block_widths(data["blocks"], where)
    except EntronasError:
        raise
    except (TypeError, ValueError, KeyError) as exc:
        raise InvalidSpaceError(f"{where}: malformed value ({exc}); see `entronas spaces` and "
                                "the README for the file format") from None
    if "preset" in data:
        if data["preset"] not in SPACES:
            SPACES.get(data["preset"])  # raises with a close-match hint
        return get_space(data["preset"], **overrides)
    missing = {"name", "backbone", "depth", "widths", "input_shape"} - set(data) - set(overrides)
    if missing:
        raise InvalidSpaceError(f"{where}: missing key(s) {sorted(missing)} (or give "
                                "preset = \"<name>\" to start from a built-in space)")
    if overrides["backbone"] not in BACKBONES:
        BACKBONES.get(overrides["backbone"])
    opts = overrides.pop("options", {})
    try:
        return ChainSpace(options=opts, **overrides)
    except EntronasError:
        raise
    except (TypeError, ValueError) as exc:
        raise InvalidSpaceError(f"{where}: {exc}") from None


def load_space_file(path: str | Path) -> tuple[ChainSpace, Any]:
    """(space, target or None) from a file with a [space] and an optional [target] section."""
    from ..targets.base import Target

    data = read_config_file(path)
    if "space" not in data:
        raise InvalidSpaceError(f"{path}: no [space] section")
    space = space_from_dict(dict(data["space"]), where=f"{path} [space]")
    target = None
    if "target" in data:
        t = dict(data["target"])
        t.setdefault("name", Path(path).stem)
        target = Target.from_dict(t)
    return space, target


def resolve_space(name_or_path: str, *, overrides: dict[str, Any] | None = None
                  ) -> tuple[ChainSpace, Any]:
    """(space, the file's target or None) for a preset name, a reference architecture's name
    (its space, with the overrides its widths need) or a path to a space file.

    The one resolver behind every command's SPACE argument; ``overrides`` are ChainSpace field
    or option overrides (experiment configs' ``space_overrides``).
    """
    from .references import REFERENCES

    overrides = dict(overrides or {})
    if name_or_path in SPACES:
        return get_space(name_or_path, **overrides), None
    if name_or_path in REFERENCES:
        space = REFERENCES.get(name_or_path).build_space()
        return (space.with_options(**overrides) if overrides else space), None
    p = Path(name_or_path)
    if p.suffix in (".toml", ".yaml", ".yml", ".json") or p.exists():
        space, target = load_space_file(p)
        return (space.with_options(**overrides) if overrides else space), target
    return SPACES.get(name_or_path)(), None  # raises UnknownNameError with a hint
