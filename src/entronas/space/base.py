"""Chain search spaces: plain data (depth range, width grids, rules) plus a backbone.

A :class:`ChainSpace` never holds a "current" architecture; a :class:`Backbone` turns
``(space, depth, layer index, widths)`` into :class:`~entronas.space.layers.Layer` descriptions.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field, replace
from functools import lru_cache
from typing import Any, Iterable, Mapping

import numpy as np

from .._core.arch import Arch
from .._core.errors import InvalidSpaceError, NotInSpaceError
from .._core.registry import Registry
from .layers import Layer, global_avg_pool, linear

#: Backbone implementations by name ("mlp", "dscnn", ...).
BACKBONES: Registry["Backbone"] = Registry("backbone")

MONOTONE_RULES = (None, "non-increasing", "non-decreasing")


def width_grid(lo: int, step: int, count: int) -> tuple[int, ...]:
    """The paper's M_i grid {lo + s*m | 0 <= m < count}."""
    for name, value, least in (("lo", lo, 1), ("step", step, 1), ("count", count, 1)):
        if not isinstance(value, int) or isinstance(value, bool) or value < least:
            raise InvalidSpaceError(
                f"width grid {name} must be an int >= {least}, got {value!r}; "
                "write widths as {lo = 16, step = 16, count = 8} or an explicit list"
            )
    return tuple(lo + step * m for m in range(count))


@dataclass(frozen=True)
class ChainSpace:
    """A search space X = union over L of X_L (Eq. 1) with structural rules.

    Attributes:
        name: registry / display name.
        backbone: name of the :class:`Backbone` that builds the layers.
        depth_min, depth_max: L^lo and L^up (inclusive).
        widths: default width grid M_i for every searched layer (ascending).
        layer_widths: optional explicit grid per layer position (overrides ``widths``).
        monotone: optional rule over consecutive searched widths.
        input_shape: channels-first input of layer 1 (u_0 = its product).
        num_classes: size of the classifier tail (0: no tail, the last searched layer is the
            output).
        options: backbone-specific settings as sorted (key, value) pairs.
    """

    name: str
    backbone: str
    depth_min: int
    depth_max: int
    widths: tuple[int, ...]
    input_shape: tuple[int, ...]
    num_classes: int = 0
    layer_widths: tuple[tuple[int, ...], ...] | None = None
    monotone: str | None = None
    options: tuple[tuple[str, Any], ...] = field(default_factory=tuple)

    def __post_init__(self) -> None:
        object.__setattr__(self, "widths", tuple(int(w) for w in self.widths))
        object.__setattr__(self, "input_shape", tuple(int(s) for s in self.input_shape))
        opts = dict(self.options.items() if isinstance(self.options, Mapping) else self.options)
        opts = BACKBONES.get(self.backbone).normalise_options(self.name, opts)
        object.__setattr__(self, "options", tuple(sorted(opts.items())))
        if self.layer_widths is not None:
            object.__setattr__(
                self, "layer_widths", tuple(tuple(int(w) for w in g) for g in self.layer_widths)
            )
        self._validate()

    # ------------------------------------------------------------------ validation
    def _validate(self) -> None:
        if not isinstance(self.name, str) or not self.name.strip():
            raise InvalidSpaceError(f"space name must be a non-empty string, got "
                                    f"{self.name!r}; write e.g. name = \"my-space\"")
        where = f"space {self.name!r}"
        if not (isinstance(self.depth_min, int) and isinstance(self.depth_max, int)):
            raise InvalidSpaceError(f"{where}: depth bounds must be ints")
        if self.depth_min < 1 or self.depth_max < self.depth_min:
            raise InvalidSpaceError(
                f"{where}: depth range [{self.depth_min}, {self.depth_max}] is empty; "
                "need 1 <= depth_min <= depth_max"
            )
        grids = [self.widths] + list(self.layer_widths or [])
        for grid in grids:
            if not grid or any(w < 1 for w in grid) or list(grid) != sorted(set(grid)):
                raise InvalidSpaceError(
                    f"{where}: widths {list(grid)} must be a non-empty ascending list of "
                    "distinct positive ints"
                )
        if self.layer_widths is not None and len(self.layer_widths) < self.depth_max:
            raise InvalidSpaceError(
                f"{where}: layer_widths has {len(self.layer_widths)} entries but depth_max is "
                f"{self.depth_max}; give one grid per layer"
            )
        if self.monotone not in MONOTONE_RULES:
            raise InvalidSpaceError(
                f"{where}: monotone must be one of {MONOTONE_RULES[1:]} or absent, "
                f"got {self.monotone!r}"
            )
        if not self.input_shape or any(s < 1 for s in self.input_shape):
            raise InvalidSpaceError(f"{where}: input_shape {self.input_shape} must be positive")
        if self.num_classes < 0:
            raise InvalidSpaceError(f"{where}: num_classes must be >= 0")
        self.backbone_impl.check_options(self)
        self.backbone_impl.validate(self)

    # ------------------------------------------------------------------ structure
    @property
    def backbone_impl(self) -> "Backbone":
        return BACKBONES.get(self.backbone)

    @property
    def chained(self) -> bool:
        """Whether each layer's cost depends on (previous width, width) only (every preset
        backbone); False for a space of named dimensions (:mod:`.dimensions`)."""
        return self.backbone_impl.chained

    def option(self, key: str, default: Any = None) -> Any:
        for k, v in self.options:
            if k == key:
                return v
        return default

    @property
    def depths(self) -> range:
        return range(self.depth_min, self.depth_max + 1)

    def grid(self, depth: int, i: int) -> tuple[int, ...]:
        """Allowed widths of layer ``i`` (0-based) in a network of ``depth`` layers."""
        return _grid(self, depth, i)

    def relation(self, depth: int, i: int) -> str | None:
        """Rule between layer i and i-1: None, "le" (M_i <= M_{i-1}), "ge", or "eq" (the
        width is tied to the previous layer's, e.g. an identity shortcut's two ends)."""
        return self.backbone_impl.relation(self, depth, i)

    def layer(self, depth: int, i: int, c_in: int | None, c_out: int) -> Layer:
        """Layer ``i`` (0-based) given the previous width (None for the first layer)."""
        return _layer(self, depth, i, c_in, c_out)

    def tail(self, depth: int, c_last: int) -> tuple[Layer, ...]:
        """Fixed layers after the searched ones (not counted in L, counted in ROM/FLOPs)."""
        return _tail(self, depth, c_last)

    def layers(self, arch: Arch | Iterable[int]) -> list[Layer]:
        """All layers of ``arch``: the L searched ones, then the tail."""
        widths = tuple(arch.widths if isinstance(arch, Arch) else arch)
        self.check_arch(widths)
        if not self.backbone_impl.chained:   # named dimensions (entronas.space.dimensions)
            return self.backbone_impl.network_layers(self, widths)
        depth = len(widths)
        out, prev = [], None
        for i, w in enumerate(widths):
            out.append(self.layer(depth, i, prev, w))
            prev = w
        out.extend(self.tail(depth, widths[-1]))
        return out

    # ------------------------------------------------------------------ membership
    def check_arch(self, arch: Arch | Iterable[int]) -> tuple[int, ...]:
        """Return the widths if ``arch`` is in X (ignoring budgets), else raise NotInSpaceError."""
        if isinstance(arch, Arch):
            if arch.space != self.name:
                raise NotInSpaceError(f"{arch} belongs to space {arch.space!r}, not {self.name!r}")
            widths = arch.widths
        else:
            widths = tuple(int(w) for w in arch)
        depth = len(widths)
        if not self.chained:   # named dimensions: the values, named
            return self.backbone_impl.check_values(self, widths)
        if depth not in self.depths:
            raise NotInSpaceError(
                f"architecture {list(widths)} has depth {depth}; space {self.name!r} allows "
                f"{self.depth_min}..{self.depth_max}"
            )
        for i, w in enumerate(widths):
            grid = self.grid(depth, i)
            if w not in grid:
                raise NotInSpaceError(
                    f"width {w} of layer {i + 1} is not in space {self.name!r}; allowed: "
                    f"{list(grid)}"
                )
            rel = self.relation(depth, i)
            if i and not rule_allows(rel, widths[i - 1], w):
                sign = {"le": "<=", "ge": ">=", "eq": "="}[rel]
                raise NotInSpaceError(
                    f"layer {i + 1} width {w} breaks the rule M_{i + 1} {sign} M_{i} "
                    f"({widths[i - 1]}) of space {self.name!r}"
                )
        return widths

    def arch(self, widths: Iterable[int]) -> Arch:
        """Make a validated :class:`Arch` of this space."""
        return Arch(self.name, self.check_arch(widths))

    def size(self, depth: int | None = None) -> int:
        """|X_L| (or |X| of Eq. 1 when depth is None), respecting structural rules."""
        if depth is None:
            return sum(self.size(d) for d in self.depths)
        counts = np.ones(len(self.grid(depth, 0)), dtype=object)
        for i in range(1, depth):
            prev, cur = np.array(self.grid(depth, i - 1)), np.array(self.grid(depth, i))
            allowed = _allowed_matrix(prev, cur, self.relation(depth, i))
            counts = allowed.T.astype(object) @ counts
        return int(counts.sum())

    # ------------------------------------------------------------------ (de)serialisation
    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "backbone": self.backbone,
            "depth": [self.depth_min, self.depth_max],
            "widths": list(self.widths),
            "layer_widths": None if self.layer_widths is None else [list(g) for g in
                                                                     self.layer_widths],
            "monotone": self.monotone,
            "input_shape": list(self.input_shape),
            "num_classes": self.num_classes,
            "options": {k: _plain(v) for k, v in self.options},
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> "ChainSpace":
        opts = {k: (tuple(v) if isinstance(v, list) else v)
                for k, v in dict(data.get("options") or {}).items()}
        lw = data.get("layer_widths")
        return cls(
            name=str(data["name"]),
            backbone=str(data["backbone"]),
            depth_min=int(data["depth"][0]),
            depth_max=int(data["depth"][1]),
            widths=tuple(data["widths"]),
            layer_widths=None if lw is None else tuple(tuple(g) for g in lw),
            monotone=data.get("monotone"),
            input_shape=tuple(data["input_shape"]),
            num_classes=int(data.get("num_classes", 0)),
            options=opts,
        )

    def fingerprint(self) -> str:
        """Stable hash of the definition (changes whenever the set X or its layers change)."""
        blob = json.dumps(self.to_dict(), sort_keys=True).encode()
        return hashlib.sha256(blob).hexdigest()[:16]

    def with_options(self, **changes: Any) -> "ChainSpace":
        """A copy with fields (or backbone options, given as ``options={...}``) replaced."""
        if "options" in changes:
            merged = dict(self.options)
            merged.update(changes.pop("options"))
            changes["options"] = tuple(sorted(merged.items()))
        return replace(self, **changes)


def _plain(value: Any) -> Any:
    """An option value as JSON/TOML writes it (tuples as lists, block entries as tables)."""
    if hasattr(value, "to_dict"):
        return value.to_dict()
    return [_plain(v) for v in value] if isinstance(value, tuple) else value


#: the rules between neighbouring widths: name -> (previous width, width) -> allowed
RULES = {None: lambda prev, w: True, "le": lambda prev, w: w <= prev,
         "ge": lambda prev, w: w >= prev, "eq": lambda prev, w: w == prev}


def rule_allows(rel: str | None, prev: int, w: int) -> bool:
    """Whether width ``w`` may follow ``prev`` under rule ``rel`` (one definition for all)."""
    return bool(RULES[rel](prev, w))


def _allowed_matrix(prev: np.ndarray, cur: np.ndarray, rel: str | None) -> np.ndarray:
    return np.broadcast_to(RULES[rel](prev[:, None], cur[None, :]), (len(prev), len(cur))).copy()


@lru_cache(maxsize=4096)
def _grid(space: ChainSpace, depth: int, i: int) -> tuple[int, ...]:
    return space.backbone_impl.grid(space, depth, i)


@lru_cache(maxsize=65536)
def _layer(space: ChainSpace, depth: int, i: int, c_in: int | None, c_out: int) -> Layer:
    return space.backbone_impl.layer(space, depth, i, c_in, c_out)


@lru_cache(maxsize=4096)
def _tail(space: ChainSpace, depth: int, c_last: int) -> tuple[Layer, ...]:
    return space.backbone_impl.tail(space, depth, c_last)


def is_int(v: Any) -> bool:
    """A whole number as written (an int, not a bool, not 64.0): space files and options."""
    return isinstance(v, int) and not isinstance(v, bool)


#: what each option kind accepts, and how the error says it
_OPTION_KINDS = {
    "int": (lambda v: is_int(v) and v >= 1, "a positive int, e.g. 3"),
    "bool": (lambda v: isinstance(v, bool), "true or false"),
    "pair": (lambda v: isinstance(v, (tuple, list)) and len(v) == 2
             and all(is_int(x) and x >= 1 for x in v), "two positive ints, e.g. [10, 4]"),
    "ints": (lambda v: isinstance(v, (tuple, list)) and all(is_int(x) and x >= 1 for x in v),
             "a list of positive ints, e.g. [2, 4]"),
    "size": (lambda v: (is_int(v) and v >= 1) or (isinstance(v, (tuple, list)) and len(v) == 2
                                                   and all(is_int(x) and x >= 1 for x in v)),
             "a positive int or two, e.g. 3 or [10, 4]"),
}


def check_option(value: Any, kind: Any, where: str) -> None:
    """``kind``: a name of :data:`_OPTION_KINDS`, or a tuple of allowed values."""
    if isinstance(kind, tuple):
        if value not in kind:
            raise InvalidSpaceError(f"{where} is {value!r}; use one of {list(kind)}")
        return
    ok, want = _OPTION_KINDS[kind]
    if not ok(value):
        raise InvalidSpaceError(f"{where} is {value!r}; it must be {want}")


class Backbone:
    """How a family of chain networks is built. Subclasses implement :meth:`layer`.

    Every cost (weights, MACs, outputs) of a layer must be non-decreasing in both its input and
    output width; the reduction relies on it and checks it.
    """

    name = ""
    #: layer kinds this backbone emits (documentation + code-size tables)
    kinds: tuple[str, ...] = ()
    #: the options this backbone reads: name -> kind (see :func:`check_option`)
    option_kinds: dict[str, Any] = {}
    #: each layer's cost depends on (previous width, width) only (False: a space of named
    #: dimensions, whose layers come from :meth:`network_layers`)
    chained = True

    def network_layers(self, space: ChainSpace, values: tuple[int, ...]) -> list[Layer]:
        """All layers of an architecture of a space that is not a chain (``chained``)."""
        raise NotImplementedError

    def check_options(self, space: ChainSpace) -> None:
        """One check of every option's name and shape, for presets and space files alike."""
        where = f"space {space.name!r}"
        for key, value in space.options:
            if key not in self.option_kinds:
                raise InvalidSpaceError(
                    f"{where}: backbone {self.name!r} has no option {key!r}; its options: "
                    f"{sorted(self.option_kinds) or 'none'}")
            check_option(value, self.option_kinds[key], f"{where}: option {key}")

    def normalise_options(self, space_name: str, options: dict[str, Any]) -> dict[str, Any]:
        """Options as the space holds them (hashable); a space file's tables become values."""
        return options

    def validate(self, space: ChainSpace) -> None:
        """Raise InvalidSpaceError for unsupported option combinations (after check_options)."""

    def grid(self, space: ChainSpace, depth: int, i: int) -> tuple[int, ...]:
        if space.layer_widths is not None:
            return space.layer_widths[i]
        return space.widths

    def relation(self, space: ChainSpace, depth: int, i: int) -> str | None:
        if i == 0 or space.monotone is None:
            return None
        return "le" if space.monotone == "non-increasing" else "ge"

    def layer(self, space: ChainSpace, depth: int, i: int, c_in: int | None,
              c_out: int) -> Layer:
        raise NotImplementedError

    def out_shape(self, space: ChainSpace, depth: int, i: int, c_out: int) -> tuple[int, ...]:
        """Output shape of searched layer i with width c_out (uses the smallest input width)."""
        prev = None if i == 0 else space.grid(depth, i - 1)[0]
        return space.layer(depth, i, prev, c_out).out_shape

    def tail(self, space: ChainSpace, depth: int, c_last: int) -> tuple[Layer, ...]:
        """Default tail: global average pooling (for feature maps) + a linear classifier."""
        if space.num_classes == 0:
            return ()
        shape = self.out_shape(space, depth, depth - 1, c_last)
        ops = []
        if len(shape) == 3:
            ops.append(global_avg_pool(shape))
        ops.append(linear(c_last, space.num_classes, bias=True, activation=None))
        return (Layer("classifier", "head", tuple(ops), searched=False),)
