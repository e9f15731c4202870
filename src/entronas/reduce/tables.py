"""Per-depth cost tables: every searched layer's cost for every (input width, output width) pair.

Built from ``space.layer(...)`` (the same layer descriptions the models are built from), so the
reduction never has a second definition of the costs. Chain networks make each layer's cost a
function of (M_{i-1}, M_i) only, which is what lets the reduction work layer by layer.
"""

from __future__ import annotations

from dataclasses import dataclass
from math import prod

import numpy as np

from .._core.errors import InvalidSpaceError
from ..cost.flops import layer_flops
from ..cost.options import CostOptions
from ..cost.ram import layer_peak
from ..cost.rom import layer_rom
from ..space.base import ChainSpace, _allowed_matrix

#: "infinitely expensive" sentinel that still leaves room for additions in int64
INF = np.int64(2**62)


@dataclass
class DepthTables:
    """Costs of all layers of depth-``depth`` networks, indexed by grid positions.

    ``rom[i][a, b]`` is layer i's ROM when layer i-1 has width ``widths[i-1][a]`` and layer i has
    ``widths[i][b]`` (layer 0 has a single row). ``out[i][b]`` is layer i's output buffer in bytes.
    ``tail_*`` are the fixed tail's costs by the last width. ``peak[i][a, b]`` is the RAM peak
    while executing layer i under a pairwise RAM model (``chain`` or ``ops``; zeros for ``eq4``).
    """

    depth: int
    widths: list[np.ndarray]
    allowed: list[np.ndarray]
    rom: list[np.ndarray]
    flops: list[np.ndarray]
    out: list[np.ndarray]
    tail_rom: np.ndarray
    tail_flops: np.ndarray
    in_bytes: int
    peak: list[np.ndarray]
    tail_peak: np.ndarray

    @property
    def sizes(self) -> list[int]:
        return [len(w) for w in self.widths]


def build_tables(space: ChainSpace, depth: int, options: CostOptions) -> DepthTables:
    widths = [np.asarray(space.grid(depth, i), dtype=np.int64) for i in range(depth)]
    pairwise = options.ram_model in ("chain", "ops")
    rom, flops, out, allowed, peak = [], [], [], [], []
    for i in range(depth):
        prev = [None] if i == 0 else [int(w) for w in widths[i - 1]]
        r = np.zeros((len(prev), len(widths[i])), dtype=np.int64)
        f = np.zeros_like(r)
        pk = np.zeros_like(r)
        o = np.zeros(len(widths[i]), dtype=np.int64)
        for a, c_in in enumerate(prev):
            for b, c_out in enumerate(widths[i]):
                layer = space.layer(depth, i, c_in, int(c_out))
                r[a, b] = layer_rom(layer, options)
                f[a, b] = layer_flops(layer, options)
                o[b] = layer.outputs * options.activation_bytes
                if pairwise:
                    pk[a, b] = layer_peak(layer, options, first=i == 0)
        rom.append(r)
        peak.append(pk)
        flops.append(f)
        out.append(o)
        allowed.append(np.ones((1, len(widths[0])), bool) if i == 0 else
                       _allowed_matrix(widths[i - 1], widths[i], space.relation(depth, i)))
    last = widths[-1]
    tail_rom = np.zeros(len(last), dtype=np.int64)
    tail_flops = np.zeros_like(tail_rom)
    tail_peak = np.zeros_like(tail_rom)
    for b, c in enumerate(last):
        for layer in space.tail(depth, int(c)):
            tail_rom[b] += layer_rom(layer, options)
            tail_flops[b] += layer_flops(layer, options)
            if options.ram_model == "ops":  # the paper's models leave the tail out of RAM
                tail_peak[b] = max(tail_peak[b], layer_peak(layer, options))
    tables = DepthTables(depth, widths, allowed, rom, flops, out, tail_rom, tail_flops,
                         prod(space.input_shape) * options.input_bytes, peak, tail_peak)
    _check_monotone(space, tables)
    return tables


def _check_monotone(space: ChainSpace, t: DepthTables) -> None:
    """The reduction is exact only if every cost is non-decreasing in every width."""
    arrays = [("ROM", t.rom), ("FLOPs", t.flops), ("RAM", [o[None, :] for o in t.out]),
              ("RAM peak", t.peak), ("tail RAM", [t.tail_peak[None, :]]),
              ("tail ROM", [t.tail_rom[None, :]]), ("tail FLOPs", [t.tail_flops[None, :]])]
    for what, tabs in arrays:
        for i, tab in enumerate(tabs):
            if (np.diff(tab, axis=1) < 0).any() or (np.diff(tab, axis=0) < 0).any():
                raise InvalidSpaceError(
                    f"space {space.name!r}: {what} of layer {i + 1} decreases when a width grows; "
                    "the reduction needs costs that are non-decreasing in every width"
                )


@dataclass
class Completion:
    """Cost of the cheapest valid completion of layers k+1..L-1 (+ tail), given M_k = grid[k][a].

    Because every cost is non-decreasing in every width and the structural rules only relate
    neighbours, taking the smallest allowed width at every later layer is cheapest in ROM, FLOPs
    and both RAM buffers at once; ``ok[k][a]`` is False when no valid completion exists.
    """

    rom: list[np.ndarray]
    flops: list[np.ndarray]
    even: list[np.ndarray]
    odd: list[np.ndarray]
    pair: list[np.ndarray]   # max layer peak (pairwise RAM models), tail included on completions
    ok: list[np.ndarray]
    nxt: list[np.ndarray]


def completion(t: DepthTables) -> Completion:
    L = t.depth
    zeros = np.zeros(t.sizes[-1], dtype=np.int64)
    c = Completion([None] * L, [None] * L, [None] * L, [None] * L, [None] * L, [None] * L,
                   [None] * L)
    c.rom[L - 1], c.flops[L - 1] = t.tail_rom.copy(), t.tail_flops.copy()
    c.even[L - 1], c.odd[L - 1], c.pair[L - 1] = zeros, zeros.copy(), t.tail_peak.copy()
    c.ok[L - 1] = np.ones(t.sizes[-1], bool)
    for k in range(L - 2, -1, -1):
        allowed = t.allowed[k + 1] & c.ok[k + 1][None, :]
        has = allowed.any(axis=1)
        nxt = np.where(has, allowed.argmax(axis=1), 0)
        a = np.arange(t.sizes[k])
        c.rom[k] = np.where(has, t.rom[k + 1][a, nxt] + c.rom[k + 1][nxt], INF)
        c.flops[k] = np.where(has, t.flops[k + 1][a, nxt] + c.flops[k + 1][nxt], INF)
        buf = t.out[k + 1][nxt]
        if layer_is_even(k + 1):
            c.even[k] = np.maximum(buf, c.even[k + 1][nxt])
            c.odd[k] = c.odd[k + 1][nxt]
        else:
            c.odd[k] = np.maximum(buf, c.odd[k + 1][nxt])
            c.even[k] = c.even[k + 1][nxt]
        c.pair[k] = np.maximum(t.peak[k + 1][a, nxt], c.pair[k + 1][nxt])
        c.ok[k], c.nxt[k] = has, nxt
    return c


def layer_is_even(k: int) -> bool:
    """Layer k (0-based) is l_{k+1} of the paper; Eq. (4) puts even i in the input's buffer."""
    return (k + 1) % 2 == 0


def prefix(t: DepthTables) -> Completion:
    """Cost of the cheapest valid prefix l_1..l_k that ends with M_k = grid[k][b] (layer k included).

    The mirror image of :func:`completion`: the smallest allowed width at every earlier layer.
    """
    L = t.depth
    p = Completion([None] * L, [None] * L, [None] * L, [None] * L, [None] * L, [None] * L,
                   [None] * L)
    p.rom[0], p.flops[0] = t.rom[0][0].copy(), t.flops[0][0].copy()
    p.even[0] = np.full(t.sizes[0], t.in_bytes, np.int64)
    p.odd[0] = t.out[0].copy()
    p.pair[0] = t.peak[0][0].copy()
    p.ok[0] = np.ones(t.sizes[0], bool)
    for k in range(1, L):
        allowed = t.allowed[k] & p.ok[k - 1][:, None]          # (W_{k-1}, W_k)
        has = allowed.any(axis=0)
        prv = np.where(has, allowed.argmax(axis=0), 0)
        b = np.arange(t.sizes[k])
        p.rom[k] = np.where(has, p.rom[k - 1][prv] + t.rom[k][prv, b], INF)
        p.flops[k] = np.where(has, p.flops[k - 1][prv] + t.flops[k][prv, b], INF)
        if layer_is_even(k):
            p.even[k] = np.maximum(p.even[k - 1][prv], t.out[k])
            p.odd[k] = p.odd[k - 1][prv]
        else:
            p.odd[k] = np.maximum(p.odd[k - 1][prv], t.out[k])
            p.even[k] = p.even[k - 1][prv]
        p.pair[k] = np.maximum(p.pair[k - 1][prv], t.peak[k][prv, b])
        p.ok[k], p.nxt[k] = has, prv
    return p
