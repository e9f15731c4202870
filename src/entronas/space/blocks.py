"""Blocks: the one definition of each searched layer's ops, and backbones written as lists of
them, in Python (the built-in backbones) or in a space file (backbone ``"blocks"``).

A block backbone gives, for a network of ``depth`` layers, one :class:`Position` per searched
layer: the block kind, its stride, its width grid, its rule against the previous width and
the kind's parameters. Every layer is then built by its :class:`BlockKind` from the input
shape and the two widths, so a ResNet block written in a file and one of the ``resnet``
backbone are the same ops, counted, trained and exported by the same code.

A space file lists entries; an entry with ``repeat = n`` is one stage of n positions: the
first takes the entry's stride and shortcut, the others keep the map, and for the residual
kinds (``invres``, ``basic``) tie their width to the previous one and add their input. A
network of depth d is the first d positions.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, Mapping

from .._core.errors import InvalidSpaceError
from .._core.registry import Registry
from .base import BACKBONES, Backbone, ChainSpace, check_option
from .layers import Layer, Op, add, conv2d, linear, pool2d

ACTIVATIONS = ("relu", "relu6", "gelu", "none")
#: a conv or dwsep block's optional pooling after its activation: (kind, window) keys
POOL_KEYS = {"pool": (("none", "max", "avg"), "none"), "pool_size": ("int", 2)}


@dataclass(frozen=True)
class Position:
    """One searched layer of a block backbone.

    Attributes:
        name: the layer's name (``ds2``, ``res3``, ...).
        block: a :data:`BLOCK_KINDS` name.
        stride: the block's stride.
        rule: against the previous width: ``"space"`` (the space's ``monotone`` rule),
            ``"free"``, ``"le"`` or ``"ge"``. A block that adds its input unchanged
            (:meth:`BlockKind.identity`) is tied (``"eq"``) whatever its rule.
        widths: this layer's grid (None: the space's grid for the position).
        params: the kind's parameters as sorted (key, value) pairs (absent: the default).
        layer_kind: overrides the kind's :attr:`Layer.kind` (ConvMixer's stem is a ``patch``).
    """

    name: str
    block: str
    stride: int = 1
    rule: str = "space"
    widths: tuple[int, ...] | None = None
    params: tuple[tuple[str, Any], ...] = ()
    layer_kind: str | None = None

    def get(self, key: str) -> Any:
        for k, v in self.params:
            if k == key:
                return v
        return BLOCK_KINDS.get(self.block).keys[key][1]


class BlockKind:
    """How one kind of block turns (input shape, output width) into ops."""

    name = ""
    layer_kind = ""
    #: prefix of the layer names a space file's entries get (``ir`` -> ``ir3``)
    prefix = ""
    #: the kind's parameters: key -> (option kind of :func:`check_option`, default)
    keys: dict[str, tuple[Any, Any]] = {}
    #: the block reads a feature map (False: a vector, a dense layer)
    spatial = True

    def ops(self, pos: Position, in_shape: tuple[int, ...], c_out: int) -> tuple[Op, ...]:
        raise NotImplementedError

    def identity(self, pos: Position) -> bool:
        """The block adds its input unchanged, which ties its width to the previous one."""
        return "shortcut" in self.keys and pos.get("shortcut") == "identity"


def _act(name: str) -> str | None:
    return None if name == "none" else name


def _pooled(pos: Position, ops: tuple[Op, ...]) -> tuple[Op, ...]:
    """``ops`` followed by the block's ``pool`` (a pool_size window at stride pool_size)."""
    if pos.get("pool") == "none":
        return ops
    kind = "max_pool" if pos.get("pool") == "max" else "avg_pool"
    return (*ops, pool2d(ops[-1].out_shape, kind, pos.get("pool_size")))


class ConvBlock(BlockKind):
    """One convolution + BatchNorm + activation (a stem, a patch embedding), optionally
    pooled (``pool = "max"`` / ``"avg"`` over ``pool_size`` windows)."""

    name, layer_kind, prefix = "conv", "conv", "conv"
    keys = {"kernel": ("size", 3), "padding": (("same", "valid"), "same"),
            "bias": ("bool", False), "batchnorm": ("bool", True),
            "activation": (ACTIVATIONS, "relu"), **POOL_KEYS}

    def ops(self, pos, in_shape, c_out):
        k = pos.get("kernel")
        return _pooled(pos, (conv2d(
            in_shape, c_out, tuple(k) if isinstance(k, (list, tuple)) else k, pos.stride,
            padding=pos.get("padding"), bias=pos.get("bias"), batchnorm=pos.get("batchnorm"),
            activation=_act(pos.get("activation"))),))


class DepthwiseSeparableBlock(BlockKind):
    """k x k depthwise (stride s) + BN + ReLU, 1x1 pointwise + BN + ReLU (MobileNetV1, DS-CNN),
    optionally pooled like a conv block."""

    name, layer_kind, prefix = "dwsep", "dsconv", "ds"
    keys = {"kernel": ("int", 3), "activation": (("relu", "relu6"), "relu"), **POOL_KEYS}

    def ops(self, pos, in_shape, c_out):
        act = pos.get("activation")
        dw = conv2d(in_shape, in_shape[0], pos.get("kernel"), pos.stride, groups=in_shape[0],
                    activation=act)
        return _pooled(pos, (dw, conv2d(dw.out_shape, c_out, 1, 1, activation=act)))


class MixerBlock(BlockKind):
    """ConvMixer: k x k depthwise + BN + act with a residual, then 1x1 pointwise + BN + act."""

    name, layer_kind, prefix = "mixer", "convmixer", "mixer"
    keys = {"kernel": ("int", 5), "bias": ("bool", True),
            "activation": (("gelu", "relu"), "gelu")}

    def ops(self, pos, in_shape, c_out):
        bias, act = pos.get("bias"), pos.get("activation")
        dw = conv2d(in_shape, in_shape[0], pos.get("kernel"), 1, groups=in_shape[0], bias=bias,
                    activation=act, residual=True)
        return dw, conv2d(dw.out_shape, c_out, 1, 1, bias=bias, activation=act)


class InvertedResidualBlock(BlockKind):
    """MobileNetV2: 1x1 expansion to ``expansion`` x c_in (left out at 1), k x k depthwise at
    stride s (both + BN + ``activation``: ReLU6 in MobileNetV2 and MCUNet), linear 1x1
    projection; with ``shortcut = "identity"`` the input is added."""

    name, layer_kind, prefix = "invres", "invres", "ir"
    keys = {"expansion": ("int", 6), "kernel": ("int", 3),
            "shortcut": (("none", "identity"), "none"),
            "activation": (("relu", "relu6"), "relu"),
            # the inner width itself (0: expansion x c_in); a searched dimension's value in a
            # space with [space.search]; the expansion conv is then always there (monotone)
            "expansion_width": ("int", 0)}

    def ops(self, pos, in_shape, c_out):
        c_in, h, w = in_shape
        t, act = pos.get("expansion"), pos.get("activation")
        hidden = pos.get("expansion_width") or t * c_in
        expand = pos.get("expansion_width") > 0 or t > 1
        ops = [conv2d(in_shape, hidden, 1, 1, activation=act)] if expand else []
        ops.append(conv2d((hidden, h, w), hidden, pos.get("kernel"), pos.stride, groups=hidden,
                          activation=act))
        ops.append(conv2d(ops[-1].out_shape, c_out, 1, 1, activation=None))
        if self.identity(pos) and c_in == c_out:   # (unequal pairs: forbidden by "eq")
            # back to the block input; no activation after the add (the linear bottleneck)
            ops.append(add(ops[-1].out_shape, skip=len(ops) + 1, activation=None))
        return tuple(ops)


class BasicResidualBlock(BlockKind):
    """ResNet: 3x3 conv (stride s) + BN + ReLU, 3x3 conv + BN, the shortcut added, ReLU; the
    shortcut is the input (``identity``) or a 1x1 projection with the block's stride."""

    name, layer_kind, prefix = "basic", "resblock", "res"
    keys = {"shortcut": (("projection", "identity"), "projection")}

    def ops(self, pos, in_shape, c_out):
        a = conv2d(in_shape, c_out, 3, pos.stride, bias=True)
        b = conv2d(a.out_shape, c_out, 3, 1, bias=True, activation=None)
        if self.identity(pos) and in_shape[0] == c_out:
            return a, b, add(b.out_shape, skip=3)
        # 1x1 projection of the block input (3 ops back), then the add of b (2 back)
        proj = conv2d(in_shape, c_out, 1, pos.stride, bias=True, batchnorm=False,
                      activation=None, source=3)
        return a, b, proj, add(b.out_shape, skip=2)


class DenseBlock(BlockKind):
    """A fully connected layer (+ BatchNorm) + activation; the first one flattens the input."""

    name, layer_kind, prefix = "dense", "dense", "fc"
    keys = {"bias": ("bool", True), "batchnorm": ("bool", False),
            "activation": (("relu", "none"), "relu")}
    spatial = False

    def ops(self, pos, in_shape, c_out):
        return (linear(math.prod(in_shape), c_out, bias=pos.get("bias"),
                       batchnorm=pos.get("batchnorm"), activation=_act(pos.get("activation"))),)


#: block kinds by name (the space-file grammar's ``block = ...``)
BLOCK_KINDS: Registry[BlockKind] = Registry("block kind")
for _kind in (ConvBlock, DepthwiseSeparableBlock, MixerBlock, InvertedResidualBlock,
              BasicResidualBlock, DenseBlock):
    BLOCK_KINDS.register(_kind.name, _kind())


class BlockBackbone(Backbone):
    """A backbone given as positions; subclasses implement :meth:`positions`."""

    def positions(self, space: ChainSpace, depth: int) -> tuple[Position, ...]:
        raise NotImplementedError

    def validate(self, space: ChainSpace) -> None:
        _in_shapes(self, space, space.depth_max)   # raises if strides leave no output

    def grid(self, space: ChainSpace, depth: int, i: int) -> tuple[int, ...]:
        own = _positions(self, space, depth)[i].widths
        return own if own is not None else super().grid(space, depth, i)

    def relation(self, space: ChainSpace, depth: int, i: int) -> str | None:
        pos = _positions(self, space, depth)[i]
        if i == 0:
            return None
        if BLOCK_KINDS.get(pos.block).identity(pos):
            return "eq"   # the block adds its input: its width is the previous one
        if pos.rule == "free":
            return None
        return super().relation(space, depth, i) if pos.rule == "space" else pos.rule

    def layer(self, space: ChainSpace, depth: int, i: int, c_in: int | None,
              c_out: int) -> Layer:
        pos = _positions(self, space, depth)[i]
        kind = BLOCK_KINDS.get(pos.block)
        if i == 0:
            in_shape = space.input_shape
        else:
            hw = _in_shapes(self, space, depth)[i]
            in_shape = (c_in, *hw)
        return Layer(pos.name, pos.layer_kind or kind.layer_kind, kind.ops(pos, in_shape, c_out))


@lru_cache(maxsize=1024)
def _positions(backbone: BlockBackbone, space: ChainSpace, depth: int) -> tuple[Position, ...]:
    return backbone.positions(space, depth)


@lru_cache(maxsize=1024)
def _in_shapes(backbone: BlockBackbone, space: ChainSpace, depth: int
               ) -> tuple[tuple[int, ...], ...]:
    """The input shape of each layer but its channels (independent of the widths): found by
    building each block on one channel, so strides, kernels and paddings have one definition."""
    shapes, shape = [], space.input_shape
    for pos in _positions(backbone, space, depth):
        shapes.append(shape[1:])
        kind = BLOCK_KINDS.get(pos.block)
        if kind.spatial and len(shape) != 3:
            got = "a vector input_shape" if not shapes[1:] else "a dense layer's vector"
            raise InvalidSpaceError(f"space {space.name!r}: layer {pos.name!r} ({pos.block}) "
                                    f"needs a (C,H,W) feature map but gets {got}; put dense "
                                    "blocks last, or give a (C,H,W) input_shape")
        probe = (shape[0] if not shapes[1:] else 1, *shape[1:]) if kind.spatial else shape
        try:
            shape = kind.ops(pos, probe, 1)[-1].out_shape
        except InvalidSpaceError as exc:   # name the layer: "a 2x2 window ... 3x1 map"
            raise InvalidSpaceError(f"space {space.name!r}: layer {pos.name!r} "
                                    f"({pos.block}): {exc}") from None
    return tuple(shapes)


# ----------------------------------------------------------------------------- space files

#: keys every entry of a space file's ``blocks`` list takes, besides its kind's own
ENTRY_KEYS = ("block", "repeat", "stride", "widths")


@dataclass(frozen=True)
class BlockEntry:
    """One entry of a space file's ``blocks`` list (``repeat`` positions), validated."""

    block: str
    repeat: int = 1
    stride: int = 1
    widths: tuple[int, ...] | None = None
    params: tuple[tuple[str, Any], ...] = ()

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"block": self.block, "repeat": self.repeat, "stride": self.stride}
        if self.widths is not None:
            out["widths"] = list(self.widths)
        out.update((k, list(v) if isinstance(v, tuple) else v) for k, v in self.params)
        return out

    def positions(self, first: int) -> list[Position]:
        """Its positions, the first being layer ``first`` (0-based)."""
        kind = BLOCK_KINDS.get(self.block)
        out = []
        for r in range(self.repeat):
            params = dict(self.params)
            if r and "shortcut" in kind.keys:
                params["shortcut"] = "identity"    # a stage's later blocks add their input
            out.append(Position(f"{kind.prefix}{first + r + 1}", self.block,
                                self.stride if r == 0 else 1, widths=self.widths,
                                params=tuple(sorted(params.items()))))
        return out


def parse_entry(raw: Any, where: str) -> BlockEntry:
    """A :class:`BlockEntry` from a space file's table, with one-line errors naming the key."""
    from .config import parse_grid

    if isinstance(raw, BlockEntry):
        return raw
    if not isinstance(raw, Mapping):
        raise InvalidSpaceError(f"{where} is {raw!r}; write each block as a table, e.g. "
                                "{ block = \"dwsep\", stride = 2 }")
    check_option(raw.get("block"), tuple(BLOCK_KINDS.names()), f"{where}.block")
    kind = BLOCK_KINDS.get(raw["block"])
    unknown = sorted(set(raw) - set(ENTRY_KEYS) - set(kind.keys))
    if unknown:
        raise InvalidSpaceError(f"{where} ({kind.name}) has no key {unknown[0]!r}; its keys: "
                                f"{sorted(set(ENTRY_KEYS) | set(kind.keys))}")
    for key in ("repeat", "stride"):
        if key in raw:
            check_option(raw[key], "int", f"{where}.{key}")
    params = {}
    for key, (option_kind, _) in kind.keys.items():
        if key in raw:
            check_option(raw[key], option_kind, f"{where}.{key}")
            params[key] = tuple(raw[key]) if isinstance(raw[key], list) else raw[key]
    entry = BlockEntry(kind.name, raw.get("repeat", 1), raw.get("stride", 1),
                       None if raw.get("widths") is None
                       else parse_grid(raw["widths"], where, "widths"),
                       tuple(sorted(params.items())))
    if entry.stride > 1 and params.get("shortcut") == "identity":
        raise InvalidSpaceError(f"{where}: shortcut 'identity' needs stride 1 (the add needs "
                                "the map kept); write shortcut = \"projection\" or stride = 1")
    if "pool_size" in params and params.get("pool", "none") == "none":
        raise InvalidSpaceError(f"{where}: pool_size without pool; add pool = \"max\" or "
                                "\"avg\", or remove pool_size")
    if kind.name == "mixer" and entry.stride != 1:
        raise InvalidSpaceError(f"{where}: a mixer block keeps the map (its depthwise "
                                "convolution adds its input); remove stride")
    return entry


class FileBlocks(BlockBackbone):
    """The backbone of a space file's ``blocks`` list."""

    name = "blocks"
    kinds = tuple(sorted({k.layer_kind for k in map(BLOCK_KINDS.get, BLOCK_KINDS)})) + ("head",)
    option_kinds = {"blocks": "blocks"}

    def normalise_options(self, space_name: str, options: dict[str, Any]) -> dict[str, Any]:
        blocks = options.get("blocks")
        if blocks is None:
            raise InvalidSpaceError(f"space {space_name!r}: backbone 'blocks' needs a list of "
                                    "blocks, e.g. [[space.blocks]] block = \"conv\" ...")
        if not isinstance(blocks, (list, tuple)) or not blocks:
            raise InvalidSpaceError(f"space {space_name!r}: blocks must be a non-empty list of "
                                    f"tables, got {blocks!r}")
        options["blocks"] = tuple(parse_entry(b, f"space {space_name!r}: blocks[{j + 1}]")
                                  for j, b in enumerate(blocks))
        return options

    def check_options(self, space: ChainSpace) -> None:
        extra = sorted(k for k, _ in space.options if k != "blocks")
        if extra:
            raise InvalidSpaceError(f"space {space.name!r}: backbone 'blocks' has no option "
                                    f"{extra[0]!r}; give each block its settings in its table")

    def validate(self, space: ChainSpace) -> None:
        where = f"space {space.name!r}"
        listed = _file_positions(space.option("blocks"))
        if len(listed) != space.depth_max:
            raise InvalidSpaceError(
                f"{where}: the blocks list {len(listed)} layers but depth_max is "
                f"{space.depth_max}; a network of depth d is the first d layers, so make them "
                "equal (repeat counts a stage's layers)")
        if BLOCK_KINDS.get(listed[0].block).identity(listed[0]):
            raise InvalidSpaceError(f"{where}: the first block cannot add its input (there is "
                                    "no earlier layer to tie its width to)")
        if space.layer_widths is not None and any(p.widths is not None for p in listed):
            raise InvalidSpaceError(f"{where}: give widths per block or layer_widths, not both")
        super().validate(space)

    def positions(self, space: ChainSpace, depth: int) -> tuple[Position, ...]:
        return _file_positions(space.option("blocks"))[:depth]


@lru_cache(maxsize=256)
def _file_positions(entries: tuple[BlockEntry, ...]) -> tuple[Position, ...]:
    out: list[Position] = []
    for entry in entries:
        out.extend(entry.positions(len(out)))
    return tuple(out)


BACKBONES.register("blocks", FileBlocks())


__all__ = ["BLOCK_KINDS", "BlockBackbone", "BlockEntry", "BlockKind", "FileBlocks", "Position",
           "parse_entry"]
