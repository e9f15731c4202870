"""Spaces that search more than one width per layer: named dimensions in a space file.

A space file with a ``[space.search]`` table names its searched dimensions and their grids;
its ``blocks`` then say which dimension sets what:

* ``width = "stem"``: the block's output width (several blocks naming one dimension share
  it, neighbours or not: MobileNetV2's stage width);
* ``expansion_width = "e1"``: an inverted residual's inner width, searched on its own grid;
* ``options = [{ block = "identity" }, { block = "invres", expansion = 3 }, ...]``: a block
  choice per position (a dimension of its own, named by ``choose``; its value is the number of
  the option, from 1; the options are listed cheapest first, identity first);
* ``repeat = [lo, hi]``: a stage of lo..hi blocks (a dimension named by ``depth``; blocks
  after the lo-th exist when the stage is deep enough).

An architecture is the tuple of the dimensions' values: the ``search`` dimensions in file
order, then the choice and depth dimensions in block order (a choice's value is its option's
number, a depth's the repeat count: every value is a positive int, like a width). Each
layer's cost depends on its scope (input and output width, inner width, choice or depth), not
on a neighbour only; :mod:`entronas.reduce.dimensions` reduces such spaces exactly. The
layers themselves are the same block kinds (:mod:`.blocks`) the chain backbones use.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from functools import lru_cache
from typing import Any, Mapping, Sequence

from .._core.errors import InvalidSpaceError, NotInSpaceError
from .base import BACKBONES, Backbone, ChainSpace, check_option, is_int
from .blocks import BLOCK_KINDS, Position, parse_entry
from .layers import Layer, global_avg_pool, linear

#: the keys a block entry of a ``search`` space takes besides its kind's own
SEARCHED_ENTRY_KEYS = ("block", "stride", "width", "expansion_width", "repeat", "options",
                       "choose", "depth")
#: ``block = "identity"`` in an ``options`` list: the position is left out
IDENTITY = "identity"
#: names a dimension cannot take (the Optuna parameter contract's ``depth``)
RESERVED = ("depth",)


@dataclass(frozen=True)
class Dimension:
    """One searched dimension: its name, its grid (ascending) and what it decides (``kind``:
    ``"width"``, ``"choice"`` (an option's number) or ``"depth"`` (a stage's repeat count))."""

    name: str
    grid: tuple[int, ...]
    kind: str = "width"


@dataclass(frozen=True)
class SearchedEntry:
    """One entry of a ``search`` space's ``blocks`` list, validated (file form in to_dict)."""

    options: tuple[tuple[str, tuple[tuple[str, Any], ...]], ...]   # (block kind, params)
    width: str | int
    stride: int = 1
    expansion_width: str | int | None = None
    repeat: tuple[int, int] = (1, 1)
    choose: str | None = None
    depth: str | None = None

    @property
    def is_choice(self) -> bool:
        return len(self.options) > 1

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"width": self.width, "stride": self.stride}
        alts = [{"block": b, **{k: list(v) if isinstance(v, tuple) else v for k, v in p}}
                for b, p in self.options]
        if self.is_choice:
            out["options"] = alts
            if self.choose is not None:
                out["choose"] = self.choose
        else:
            out.update(alts[0])
        if self.expansion_width is not None:
            out["expansion_width"] = self.expansion_width
        lo, hi = self.repeat
        if (lo, hi) != (1, 1):
            out["repeat"] = hi if lo == hi else [lo, hi]
        if self.depth is not None:
            out["depth"] = self.depth
        return out


@dataclass(frozen=True)
class Slot:
    """One position of the network (a layer when present).

    ``options[v]`` is the block at choice value v (None: identity); ``inp`` / ``width`` /
    ``expansion`` are dimension names or fixed ints (``inp`` None: the network input);
    ``present`` is (depth dimension, r): the slot exists when that dimension's value > r.
    """

    name: str
    options: tuple[Position | None, ...]
    inp: str | int | None
    width: str | int
    expansion: str | int | None = None
    choice: str | None = None
    present: tuple[str, int] | None = None

    def refs(self) -> tuple[str, ...]:
        """The dimensions this slot's layer depends on (its scope), in a fixed order."""
        names = [self.inp, self.width, self.expansion, self.choice,
                 self.present[0] if self.present else None]
        out: list[str] = []
        for n in names:
            if isinstance(n, str) and n not in out:
                out.append(n)
        return tuple(out)


def _where_entry(space_name: str, j: int) -> str:
    return f"space {space_name!r}: blocks[{j + 1}]"


def parse_search(raw: Any, space_name: str) -> tuple[tuple[str, tuple[int, ...]], ...]:
    """``[space.search]`` as (name, grid) pairs in file order, each grid validated."""
    from .config import parse_grid

    where = f"space {space_name!r}: search"
    if isinstance(raw, Mapping):
        items = list(raw.items())
    elif isinstance(raw, (list, tuple)) and all(isinstance(p, (list, tuple)) and len(p) == 2
                                                for p in raw):
        items = [tuple(p) for p in raw]
    else:
        raise InvalidSpaceError(f"{where} must be a table of name = grid, e.g. "
                                f"stem = [8, 16, 24, 32]; got {raw!r}")
    if not items:
        raise InvalidSpaceError(f"{where} is empty; name at least one searched dimension")
    out = []
    for name, grid in items:
        _check_name(name, where)
        g = parse_grid(list(grid) if isinstance(grid, tuple) else grid, where, str(name))
        if list(g) != sorted(set(g)):
            raise InvalidSpaceError(f"{where}: {name} {list(g)} must be ascending and "
                                    "distinct")
        out.append((str(name), tuple(g)))
    return tuple(out)


def _check_name(name: Any, where: str) -> None:
    if not isinstance(name, str) or not name.isidentifier() or name in RESERVED:
        raise InvalidSpaceError(f"{where}: dimension name {name!r} must be an identifier "
                                f"(letters, digits, _) other than {list(RESERVED)}")


def parse_searched_entry(raw: Any, where: str) -> SearchedEntry:
    """A :class:`SearchedEntry` from a block table, with one-line errors naming the key."""
    if isinstance(raw, SearchedEntry):
        return raw
    if not isinstance(raw, Mapping):
        raise InvalidSpaceError(f"{where} is {raw!r}; write each block as a table, e.g. "
                                "{ block = \"invres\", width = \"stem\" }")
    raw = dict(raw)
    if "widths" in raw:
        raise InvalidSpaceError(f"{where}: a space with [space.search] names a dimension for "
                                "each block's width (width = \"stem\"), not a grid (widths)")
    if "width" not in raw:
        raise InvalidSpaceError(f"{where}: missing key 'width' (a dimension of "
                                "[space.search], or a fixed whole number)")
    if "options" in raw and "block" in raw:
        raise InvalidSpaceError(f"{where}: give either block = \"...\" or options = [...] "
                                "(a block choice), not both")
    if "options" not in raw and "block" not in raw:
        raise InvalidSpaceError(f"{where} has no block (its keys: {sorted(raw)}); give "
                                "block = \"conv\" (or another kind) or options = [...]")
    if "stride" in raw:
        check_option(raw["stride"], "int", f"{where}.stride")
    repeat = raw.get("repeat", 1)
    if is_int(repeat) and repeat >= 1:
        rep = (repeat, repeat)
    elif (isinstance(repeat, (list, tuple)) and len(repeat) == 2
          and all(is_int(r) and r >= 1 for r in repeat) and repeat[0] <= repeat[1]):
        rep = (int(repeat[0]), int(repeat[1]))
    else:
        raise InvalidSpaceError(f"{where}.repeat is {repeat!r}; it must be a positive int or "
                                "[lo, hi] with 1 <= lo <= hi (a stage of lo..hi blocks)")
    for key in ("choose", "depth"):
        if key in raw:
            _check_name(raw[key], f"{where}.{key}")
    if "depth" in raw and rep[0] == rep[1]:
        raise InvalidSpaceError(f"{where}: depth names the dimension of a repeat range; "
                                "give repeat = [lo, hi] or remove depth")
    if "choose" in raw and "options" not in raw:
        raise InvalidSpaceError(f"{where}: choose names the dimension of a block choice; "
                                "give options = [...] or remove choose")
    shared = {k: raw[k] for k in ("stride",) if k in raw}
    if "options" in raw:
        alts = raw["options"]
        if not isinstance(alts, (list, tuple)) or len(alts) < 2:
            raise InvalidSpaceError(f"{where}.options must list at least two blocks (the "
                                    f"choice), got {alts!r}")
        if rep != (1, 1):
            raise InvalidSpaceError(f"{where}: a block choice is one position; write one "
                                    "entry per position instead of repeat")
        options = []
        for k, alt in enumerate(alts):
            w = f"{where}.options[{k + 1}]"
            if isinstance(alt, Mapping) and alt.get("block") == IDENTITY:
                if set(alt) != {"block"}:
                    raise InvalidSpaceError(f"{w}: identity takes no keys; write "
                                            "{ block = \"identity\" }")
                options.append((IDENTITY, ()))
                continue
            options.append(_alternative(alt, w, shared))
        if options[0][0] != IDENTITY and any(b == IDENTITY for b, _ in options):
            raise InvalidSpaceError(f"{where}.options: list identity first (options go "
                                    "cheapest first: costs must grow with the choice)")
        if sum(b == IDENTITY for b, _ in options) > 1:
            raise InvalidSpaceError(f"{where}.options: identity is listed twice")
        if len(set(options)) != len(options):
            raise InvalidSpaceError(f"{where}.options: two options are the same block")
    else:
        body = {k: v for k, v in raw.items() if k not in SEARCHED_ENTRY_KEYS or k == "block"}
        if raw["block"] == IDENTITY:
            raise InvalidSpaceError(f"{where}: identity is an option of a block choice, not "
                                    "a block; write options = [{ block = \"identity\" }, ...]")
        options = [_alternative({**body, **shared}, where, shared)]
    width = _ref(raw["width"], f"{where}.width")
    exp = raw.get("expansion_width")
    if exp is not None:
        if any(b != "invres" and b != IDENTITY for b, _ in options):
            raise InvalidSpaceError(f"{where}: expansion_width is an inverted residual's "
                                    "(block = \"invres\") inner width")
        exp = _ref(exp, f"{where}.expansion_width")
    return SearchedEntry(tuple(options), width, int(raw.get("stride", 1)), exp, rep,
                         raw.get("choose"), raw.get("depth"))


def _alternative(raw: Any, where: str, shared: Mapping[str, Any]
                 ) -> tuple[str, tuple[tuple[str, Any], ...]]:
    """(kind, params) of one block table, its keys checked by the chain grammar's parser."""
    if not isinstance(raw, Mapping):
        raise InvalidSpaceError(f"{where} is {raw!r}; write a table, e.g. "
                                "{ block = \"invres\", expansion = 3 }")
    bad = sorted(set(raw) & (set(SEARCHED_ENTRY_KEYS) - {"block", "stride"}))
    if bad:
        raise InvalidSpaceError(f"{where}: {bad[0]} belongs to the entry, not to one option")
    if "widths" in raw or "repeat" in raw:
        raise InvalidSpaceError(f"{where}: an option takes its block's keys only")
    entry = parse_entry({**shared, **raw}, where)
    return entry.block, entry.params


def _ref(value: Any, where: str) -> str | int:
    if isinstance(value, str):
        _check_name(value, where)
        return value
    if is_int(value) and value >= 1:
        return int(value)
    raise InvalidSpaceError(f"{where} is {value!r}; name a dimension of [space.search] "
                            "(e.g. \"stem\") or give a fixed whole number")


# ----------------------------------------------------------------------------- structure


@lru_cache(maxsize=256)
def structure(search: tuple[tuple[str, tuple[int, ...]], ...],
              entries: tuple[SearchedEntry, ...], space_name: str
              ) -> tuple[tuple[Dimension, ...], tuple[Slot, ...]]:
    """The dimensions (architecture order) and the slots of a ``search`` space, validated:
    every reference names a dimension, every dimension is used, blocks that may be left out
    or add their input keep their input's width."""
    dims = [Dimension(n, g) for n, g in search]
    known = {d.name for d in dims}
    slots: list[Slot] = []
    prev: str | int | None = None
    for j, e in enumerate(entries):
        where = _where_entry(space_name, j)
        first_kind = next(b for b, _ in e.options if b != IDENTITY)
        prefix = BLOCK_KINDS.get(first_kind).prefix
        first_name = f"{prefix}{len(slots) + 1}"
        for ref, key in ((e.width, "width"), (e.expansion_width, "expansion_width")):
            if isinstance(ref, str) and (ref not in known or _kind_of(dims, ref) != "width"):
                raise InvalidSpaceError(
                    f"{where}.{key} names {ref!r}, which is not a width of [space.search]; "
                    f"its widths: {sorted(d.name for d in dims if d.kind == 'width')}")
        choice = depth = None
        if e.is_choice:
            choice = e.choose or first_name
            dims.append(Dimension(choice, tuple(range(1, len(e.options) + 1)), "choice"))
        lo, hi = e.repeat
        if lo != hi:
            depth = e.depth or f"{first_name}_depth"
            dims.append(Dimension(depth, tuple(range(lo, hi + 1)), "depth"))
        for name in (choice, depth):
            if name is not None and name in known:
                raise InvalidSpaceError(f"{where}: dimension {name!r} is named twice; give "
                                        "choose / depth a name of its own")
            if name is not None:
                known.add(name)
        for r in range(hi):
            name = first_name if r == 0 else f"{prefix}{len(slots) + 1}"
            stride = e.stride if r == 0 else 1
            inp = prev
            keeps = inp == e.width     # the block's input has its output's width
            opts: list[Position | None] = []
            for block, params in e.options:
                if block == IDENTITY:
                    opts.append(None)
                    continue
                kind = BLOCK_KINDS.get(block)
                p = dict(params)
                if r and "shortcut" in kind.keys:
                    p["shortcut"] = "identity"   # a stage's later blocks add their input
                if p.get("shortcut") == "identity" and not keeps:
                    raise InvalidSpaceError(
                        f"{where}: shortcut 'identity' adds the block's input, so its input "
                        f"and output must be one width; its input is {_show(inp)} and its "
                        f"width {_show(e.width)}: write width = {_quote(inp)}")
                opts.append(Position(name, block, stride, "free",
                                     params=tuple(sorted(p.items()))))
            optional = any(o is None for o in opts) or r >= lo
            if optional and (j == 0 and r == 0):
                raise InvalidSpaceError(f"{where}: the first block cannot be left out")
            if optional and not (keeps and stride == 1):
                raise InvalidSpaceError(
                    f"{where}: a block that may be left out must keep its input (stride 1, "
                    f"width = {_quote(inp)}); it has stride {stride} and width "
                    f"{_show(e.width)}")
            slots.append(Slot(name, tuple(opts), inp, e.width, e.expansion_width, choice,
                              (depth, r) if r >= lo else None))
            prev = e.width
    used = {n for s in slots for n in s.refs()}
    unused = [d.name for d in dims if d.name not in used]
    if unused:
        raise InvalidSpaceError(f"space {space_name!r}: dimension {unused[0]!r} of "
                                "[space.search] is used by no block; remove it or name it in "
                                "a block's width / expansion_width")
    return tuple(dims), tuple(slots)


def _kind_of(dims: Sequence[Dimension], name: str) -> str:
    return next(d.kind for d in dims if d.name == name)


def _show(ref: str | int | None) -> str:
    return "the network input" if ref is None else repr(ref)


def _quote(ref: str | int | None) -> str:
    return f'"{ref}"' if isinstance(ref, str) else str(ref)


class DimensionBlocks(Backbone):
    """The backbone of a space file with ``[space.search]``: its grids are the dimensions'
    (one "layer" of the chain interface per dimension, so trees, samplers and the parameter
    contract see the architecture's values) and its layers come from the slots."""

    name = "dimensions"
    kinds = tuple(sorted({k.layer_kind for k in map(BLOCK_KINDS.get, BLOCK_KINDS)})) + ("head",)
    option_kinds = {"search": "search", "blocks": "blocks"}
    chained = False

    def normalise_options(self, space_name: str, options: dict[str, Any]) -> dict[str, Any]:
        if "search" not in options or "blocks" not in options:
            raise InvalidSpaceError(f"space {space_name!r}: a searched-dimensions space needs "
                                    "both [space.search] and [[space.blocks]]")
        extra = sorted(set(options) - {"search", "blocks"})
        if extra:
            raise InvalidSpaceError(f"space {space_name!r}: backbone 'dimensions' has no "
                                    f"option {extra[0]!r}; give each block its settings")
        blocks = options["blocks"]
        if not isinstance(blocks, (list, tuple)) or not blocks:
            raise InvalidSpaceError(f"space {space_name!r}: blocks must be a non-empty list "
                                    f"of tables, got {blocks!r}")
        options["search"] = parse_search(options["search"], space_name)
        options["blocks"] = tuple(parse_searched_entry(b, _where_entry(space_name, j))
                                  for j, b in enumerate(blocks))
        return options

    def check_options(self, space: ChainSpace) -> None:
        return None   # normalise_options validated both

    def validate(self, space: ChainSpace) -> None:
        dims, _ = self.structure(space)
        if space.depth_min != len(dims) or space.depth_max != len(dims):
            raise InvalidSpaceError(f"space {space.name!r}: a searched-dimensions space has "
                                    f"{len(dims)} dimensions; leave depth out")
        if space.layer_widths is not None or space.monotone is not None:
            raise InvalidSpaceError(f"space {space.name!r}: layer_widths and monotone do not "
                                    "apply to a space with [space.search]")
        in_shapes(space)   # raises if strides leave no output, names the layer

    def structure(self, space: ChainSpace) -> tuple[tuple[Dimension, ...], tuple[Slot, ...]]:
        return structure(space.option("search"), space.option("blocks"), space.name)

    def grid(self, space: ChainSpace, depth: int, i: int) -> tuple[int, ...]:
        return self.structure(space)[0][i].grid

    def relation(self, space: ChainSpace, depth: int, i: int) -> str | None:
        return None

    def layer(self, space, depth, i, c_in, c_out):
        raise InvalidSpaceError(f"space {space.name!r} searches named dimensions, not one "
                                "width per layer; build its layers with space.layers(arch)")

    def tail(self, space, depth, c_last):
        raise InvalidSpaceError(f"space {space.name!r} searches named dimensions; its tail "
                                "comes with space.layers(arch)")

    def check_values(self, space: ChainSpace, values: tuple[int, ...]) -> tuple[int, ...]:
        """``values`` if they are an architecture of the space, else NotInSpaceError naming
        the dimension (membership for ChainSpace.check_arch)."""
        dims = self.structure(space)[0]
        if len(values) != len(dims):
            raise NotInSpaceError(
                f"space {space.name!r} has {len(dims)} dimensions "
                f"({', '.join(d.name for d in dims)}); got {len(values)} values "
                f"{list(values)}")
        for d, v in zip(dims, values):
            if v not in d.grid:
                raise NotInSpaceError(f"value {v} of dimension {d.name!r} is not in space "
                                      f"{space.name!r}; allowed: {list(d.grid)}")
        return values

    def network_layers(self, space: ChainSpace, values: tuple[int, ...]) -> list[Layer]:
        """Every layer of the architecture with these dimension values, the tail included."""
        dims, slots = self.structure(space)
        value = {d.name: v for d, v in zip(dims, values)}
        out = []
        for j, slot in enumerate(slots):
            layer = slot_layer(space, j, tuple(value[n] for n in slot.refs()))
            if layer is not None:
                out.append(layer)
        out.extend(tail_layers(space, _resolve(slots[-1].width, value)))
        return out


def _resolve(ref: str | int | None, value: Mapping[str, int]) -> int:
    return ref if isinstance(ref, int) else value[ref]


@lru_cache(maxsize=1024)
def in_shapes(space: ChainSpace) -> tuple[tuple[int, ...], ...]:
    """Each slot's input shape but its channels, then the network's output map (the widths
    never change a map's size; a slot that may be left out keeps its input's, checked here)."""
    dims, slots = space.backbone_impl.structure(space)
    smallest = {d.name: d.grid[0] for d in dims}
    shapes, shape = [], tuple(space.input_shape)
    for j, slot in enumerate(slots):
        shapes.append(shape[1:])
        for v, pos in enumerate(slot.options):
            if pos is None:
                continue
            kind = BLOCK_KINDS.get(pos.block)
            if kind.spatial and len(shape) != 3:
                raise InvalidSpaceError(f"space {space.name!r}: layer {slot.name!r} "
                                        f"({pos.block}) needs a (C,H,W) feature map; put dense "
                                        "blocks last, or give a (C,H,W) input_shape")
            c_in = shape[0] if j == 0 else 1
            try:
                out = kind.ops(_with_expansion(pos, slot, smallest), (c_in, *shape[1:]),
                               1)[-1].out_shape
            except InvalidSpaceError as exc:
                raise InvalidSpaceError(f"space {space.name!r}: layer {slot.name!r} "
                                        f"({pos.block}): {exc}") from None
            optional = slot.present is not None or None in slot.options
            if optional and out[1:] != shape[1:]:
                raise InvalidSpaceError(
                    f"space {space.name!r}: layer {slot.name!r} may be left out, so it must "
                    f"keep its input's map ({shape[1:]} -> {out[1:]}); use stride 1 and "
                    "'same' padding")
            if v == len(slot.options) - 1:
                shape = (1, *out[1:]) if len(out) == 3 else out
    return tuple(shapes) + (shape[1:],)


def _with_expansion(pos: Position, slot: Slot, value: Mapping[str, int]) -> Position:
    if slot.expansion is None:
        return pos
    params = dict(pos.params)
    params["expansion_width"] = _resolve(slot.expansion, value)
    return replace(pos, params=tuple(sorted(params.items())))


@lru_cache(maxsize=262144)
def slot_layer(space: ChainSpace, j: int, scope: tuple[int, ...]) -> Layer | None:
    """Slot ``j``'s layer given the values of its scope (:meth:`Slot.refs`), None when the
    slot is left out (identity chosen, or the stage not that deep)."""
    _, slots = space.backbone_impl.structure(space)
    slot = slots[j]
    value = dict(zip(slot.refs(), scope))
    if slot.present is not None and value[slot.present[0]] <= slot.present[1]:
        return None
    pos = slot.options[value[slot.choice] - 1] if slot.choice is not None \
        else slot.options[0]
    if pos is None:
        return None
    hw = in_shapes(space)[j]
    in_shape = tuple(space.input_shape) if slot.inp is None else (_resolve(slot.inp, value),
                                                                   *hw)
    kind = BLOCK_KINDS.get(pos.block)
    return Layer(slot.name, pos.layer_kind or kind.layer_kind,
                 kind.ops(_with_expansion(pos, slot, value), in_shape,
                          _resolve(slot.width, value)))


@lru_cache(maxsize=4096)
def tail_layers(space: ChainSpace, c_last: int) -> tuple[Layer, ...]:
    """Global average pooling (for a feature map) and the classifier, by the last width."""
    if space.num_classes == 0:
        return ()
    hw = in_shapes(space)[-1]   # the last layer's output map (none after a dense layer)
    ops = [global_avg_pool((c_last, *hw))] if hw else []
    ops.append(linear(c_last, space.num_classes, bias=True, activation=None))
    return (Layer("classifier", "head", tuple(ops), searched=False),)


def dimensions_of(space: ChainSpace) -> tuple[Dimension, ...]:
    """The searched dimensions of a space (one width per layer for a chain space: none)."""
    impl = space.backbone_impl
    return impl.structure(space)[0] if not getattr(impl, "chained", True) else ()


def space_from_search(data: Mapping[str, Any], where: str) -> ChainSpace:
    """A :class:`ChainSpace` of backbone ``dimensions`` from a ``[space]`` table with
    ``search`` and ``blocks`` (depth: one per dimension; widths: every width grid joined)."""
    allowed = {"name", "description", "search", "blocks", "input_shape", "num_classes",
               "backbone"}
    unknown = sorted(set(data) - allowed)
    if unknown:
        raise InvalidSpaceError(f"{where}: {unknown[0]!r} does not apply to a space with "
                                f"[space.search]; its keys: {sorted(allowed)}")
    if data.get("backbone", "dimensions") != "dimensions":
        raise InvalidSpaceError(f"{where}: a space with [space.search] is built from its "
                                "blocks; remove backbone")
    for key in ("name", "input_shape", "blocks"):
        if key not in data:
            raise InvalidSpaceError(f"{where}: missing key {key!r}")
    from .config import _int, parse_grid

    name = data["name"]
    if not isinstance(name, str) or not name.strip():
        raise InvalidSpaceError(f"{where}: name must be a non-empty string")
    search = parse_search(data["search"], name)
    opts = {"search": search, "blocks": data["blocks"]}
    probe = DimensionBlocks().normalise_options(name, dict(opts))
    dims, _ = structure(probe["search"], probe["blocks"], name)
    widths = tuple(sorted({w for d in dims for w in d.grid if d.kind == "width"}))
    return ChainSpace(name=name, backbone="dimensions", depth_min=len(dims),
                      depth_max=len(dims), widths=widths or (1,),
                      input_shape=parse_grid(data["input_shape"], where, "input_shape"),
                      num_classes=_int(data.get("num_classes", 0), where, "num_classes", lo=0),
                      options=probe)


BACKBONES.register("dimensions", DimensionBlocks())

__all__ = ["Dimension", "DimensionBlocks", "SearchedEntry", "Slot", "dimensions_of",
           "slot_layer", "space_from_search", "tail_layers"]
