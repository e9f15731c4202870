"""Per-depth cost tables: every searched layer's cost for every (input width, output width) pair.

Built from ``space.layer(...)`` (the same layer descriptions the models are built from), so the
reduction never has a second definition of the costs. Chain networks make each layer's cost a
function of (M_{i-1}, M_i) only, which is what lets the reduction work layer by layer.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from math import prod
from typing import Sequence

import numpy as np

from .._core.errors import InvalidSpaceError
from ..cost.flops import layer_flops
from ..cost.options import CostOptions
from ..cost.ram import layer_peak, layer_persistent, op_tensors
from ..cost.rom import layer_rom
from ..space.base import ChainSpace, _allowed_matrix, rule_allows
from ..space.layers import Layer
from ..space.lowering import lower

#: "infinitely expensive" sentinel that still leaves room for additions in int64
INF = np.int64(2**62)


@dataclass
class DepthTables:
    """Costs of all layers of depth-``depth`` networks, indexed by grid positions.

    ``rom[i][a, b]`` is layer i's ROM when layer i-1 has width ``widths[i-1][a]`` and layer i has
    ``widths[i][b]`` (layer 0 has a single row). ``out[i][b]`` is layer i's output buffer in bytes.
    ``tail_*`` are the fixed tail's costs by the last width.

    RAM comes in one of three shapes (``ram_shape``):

    * ``"parity"`` (Eq. 4): the even/odd buffer maxima of ``out``;
    * ``"pairwise"`` (``chain``, ``ops``): max over layers of ``peak[i][a, b]`` (the RAM peak
      while executing layer i) plus the sum of the additive ``pers`` terms (zeros here);
    * ``"tflm"``: the same max + sum is a *lower bound* (live peak + persistent arena) that the
      reduction prunes with; every member it keeps is then checked with the exact planner
      replay over ``tensors`` (aligned bytes of the activation tensors each layer writes, per
      grid pair) and ``lifetimes``. ``window`` holds the monotone upper bound of the plan
      (:func:`entronas.cost.planner.neighbourhood_bound`, per layer), which accepts members
      without a replay and counts sets too large to list (conservatively).
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
    ram_shape: str = "parity"
    pers: list[np.ndarray] = field(default_factory=list)
    tail_pers: np.ndarray | None = None
    window: list[np.ndarray] = field(default_factory=list)
    tail_window: np.ndarray | None = None
    tensors: list[np.ndarray] = field(default_factory=list)
    tail_tensors: np.ndarray | None = None
    lifetimes: list[tuple[int, int]] = field(default_factory=list)
    floor: int = 0   # tflm: TFLM's Prepare-time arena, a floor under the plan (per depth)

    def __post_init__(self) -> None:
        if not self.pers:
            self.pers = [np.zeros_like(r) for r in self.rom]
        if self.tail_pers is None:
            self.tail_pers = np.zeros_like(self.tail_rom)

    @property
    def sizes(self) -> list[int]:
        return [len(w) for w in self.widths]

    @property
    def pairwise(self) -> bool:
        return self.ram_shape != "parity"

    def upper_bound(self, box: Sequence[int]) -> "DepthTables":
        """Pairwise tables whose RAM is a monotone upper bound of the ``tflm`` RAM inside the
        box of grid positions ``box`` (M^red of the lower bound, which holds all of X^f).

        ``peak`` becomes the planner's per-layer window bound (at least the Prepare floor) plus
        the persistent part of the box's most expensive network, ``pers`` zero, and widths
        outside the box are closed: what the counting DP can count exactly, a subset of X^f.
        """
        extra = self.persistent_bound(box)
        peak = []
        for i, w in enumerate(self.window):
            p = np.maximum(w, self.floor) + extra
            p[:, box[i] + 1:] = INF
            if i:
                p[box[i - 1] + 1:, :] = INF
            peak.append(p)
        tail = np.maximum(self.tail_window, self.floor) + extra
        tail[box[-1] + 1:] = INF
        return DepthTables(
            self.depth, self.widths, self.allowed, self.rom, self.flops, self.out,
            self.tail_rom, self.tail_flops, self.in_bytes, peak, tail, "pairwise")

    def lower_bound(self, pers_min: int) -> "DepthTables":
        """Pairwise tables whose RAM is a monotone lower bound of the ``tflm`` RAM (live peak,
        Prepare floor, and the persistent part of the cheapest network): their count is an
        upper bound of |X^f|, which tells whether X^f is small enough to list exactly."""
        return DepthTables(
            self.depth, self.widths, self.allowed, self.rom, self.flops, self.out,
            self.tail_rom, self.tail_flops, self.in_bytes,
            [np.maximum(p, self.floor) + pers_min for p in self.peak],
            np.maximum(self.tail_peak, self.floor) + pers_min, "pairwise")

    def persistent_bound(self, m_red_pos: Sequence[int]) -> int:
        """The persistent part of the most expensive network in the box below ``m_red_pos``."""
        total = int(self.pers[0][0, m_red_pos[0]])
        for i in range(1, self.depth):
            total += int(self.pers[i][m_red_pos[i - 1], m_red_pos[i]])
        return total + int(self.tail_pers[m_red_pos[-1]])


def build_tables(space: ChainSpace, depth: int, options: CostOptions) -> DepthTables:
    widths = [np.asarray(space.grid(depth, i), dtype=np.int64) for i in range(depth)]
    shape = {"eq4": "parity", "chain": "pairwise", "ops": "pairwise", "tflm": "tflm"}[
        options.ram_model]
    pairwise, tflm = shape != "parity", shape == "tflm"
    floor = 0
    if tflm:  # a network TFLM cannot run does not fit, whatever its size
        from ..cost.ram import prepare_floor
        from ..cost.tflm import check_tflm_codes

        layers = probe_layers(space, depth)
        check_tflm_codes(lower([op for layer in layers for op in layer.ops]).codes(),
                         f"space {space.name!r}")
        floor = prepare_floor(layers, options)  # structure only: the same for every width
    rom, flops, out, allowed, peak, pers, window, tensors = [], [], [], [], [], [], [], []
    for i in range(depth):
        prev = [None] if i == 0 else [int(w) for w in widths[i - 1]]
        r = np.zeros((len(prev), len(widths[i])), dtype=np.int64)
        f = np.zeros_like(r)
        pk = np.zeros_like(r)
        ps = np.zeros_like(r)
        wn = np.zeros_like(r)
        tens: list[list[int]] = []
        o = np.zeros(len(widths[i]), dtype=np.int64)
        for a, c_in in enumerate(prev):
            row = []
            for b, c_out in enumerate(widths[i]):
                layer = space.layer(depth, i, c_in, int(c_out))
                first = i == 0
                r[a, b] = layer_rom(layer, options, first=first)
                f[a, b] = layer_flops(layer, options)
                o[b] = layer.outputs * options.activation_bytes
                if pairwise:
                    pk[a, b] = layer_peak(layer, options, first=first)
                if tflm:
                    ps[a, b] = layer_persistent(layer, options, first=first)
                    frag = [layer, *_next_layers(space, depth, i, int(c_out))]
                    wn[a, b], owned = _window(frag, options, first)
                    row.append(owned)
            tens.append(row)
        rom.append(r)
        peak.append(pk)
        pers.append(ps)
        window.append(wn)
        flops.append(f)
        out.append(o)
        allowed.append(np.ones((1, len(widths[0])), bool) if i == 0 else
                       _allowed_matrix(widths[i - 1], widths[i], space.relation(depth, i)))
        if tflm:
            tensors.append(_owned_array(tens, allowed[-1]))
    last = widths[-1]
    tail_rom = np.zeros(len(last), dtype=np.int64)
    tail_flops = np.zeros_like(tail_rom)
    tail_peak = np.zeros_like(tail_rom)
    tail_pers = np.zeros_like(tail_rom)
    tail_window = np.zeros_like(tail_rom)
    tail_tensors = []
    for b, c in enumerate(last):
        tail = space.tail(depth, int(c))
        for layer in tail:
            tail_rom[b] += layer_rom(layer, options)
            tail_flops[b] += layer_flops(layer, options)
            if options.ram_model in ("ops", "tflm"):  # the paper's models leave the tail out
                tail_peak[b] = max(tail_peak[b], layer_peak(layer, options))
            tail_pers[b] += layer_persistent(layer, options)
        if tflm:
            tail_window[b], owned = _window(list(tail), options, False) if tail else (0, [])
            tail_tensors.append(owned)
    tables = DepthTables(depth, widths, allowed, rom, flops, out, tail_rom, tail_flops,
                         prod(space.input_shape) * options.input_bytes, peak, tail_peak, shape,
                         pers, tail_pers, window, tail_window, tensors,
                         np.array(tail_tensors, dtype=np.int64).reshape(len(last), -1)
                         if tflm else None,
                         _lifetimes(space, depth) if tflm else [], floor)
    _check_monotone(space, tables)
    return tables


def probe_layers(space: ChainSpace, depth: int) -> list[Layer]:
    """The layers (tail included) of the all-smallest-widths network of a depth: what depends
    on the structure only (op codes, layer kinds, TFLM's Prepare floor) is read from them."""
    probe = [int(space.grid(depth, i)[0]) for i in range(depth)]
    return [space.layer(depth, i, None if i == 0 else probe[i - 1], w)
            for i, w in enumerate(probe)] + list(space.tail(depth, probe[-1]))


def _owned_array(rows: list[list[list[int]]], allowed: np.ndarray) -> np.ndarray:
    """(W_prev, W, n) tensor bytes per grid pair. A pair the rules forbid may lower to another
    graph (an identity block's unequal pair would need a projection); it never enters a
    network, so it gets zeros of the allowed pairs' length."""
    n = {len(rows[a][b]) for a, b in zip(*np.nonzero(allowed))}
    if len(n) > 1:  # pragma: no cover - a backbone's allowed layers share one graph
        raise InvalidSpaceError(f"allowed layers lower to graphs of {sorted(n)} tensors")
    size = n.pop() if n else 0
    return np.array([[cell if ok else [0] * size for cell, ok in zip(row, oks)]
                     for row, oks in zip(rows, allowed)], dtype=np.int64).reshape(
                         allowed.shape + (size,))


def _next_layers(space: ChainSpace, depth: int, i: int, c_out: int) -> list[Layer]:
    """The layer after layer i with its widest allowed width (the tail after the last one).

    Why the widest: a window bound that looks one layer ahead must hold for every completion;
    costs grow with the width, so the widest allowed next layer bounds them all.
    """
    if i == depth - 1:
        return list(space.tail(depth, c_out))
    grid = space.grid(depth, i + 1)
    rel = space.relation(depth, i + 1)
    ok = [w for w in grid if rule_allows(rel, c_out, w)]
    return [space.layer(depth, i + 1, c_out, int(max(ok or grid)))]


def _window(layers: Sequence[Layer], options: CostOptions, first: bool) -> tuple[int, list[int]]:
    """(planner window bound over the tensors the first layer writes, their aligned bytes).

    The tensors of ``layers[0]`` (and the network input when ``first``) are the ones owned;
    each one's bound is its bytes plus those of every tensor alive with it, the later layers
    included, so the max over all layers' owned tensors is the network's neighbourhood bound.
    """
    ops = [op for layer in layers for op in layer.ops]
    tensors = op_tensors(ops, options, first=first)
    n_own = len(lower(layers[0].ops).tensors)
    owned = range(0 if first else 1, n_own)
    bound = 0
    for k in owned:
        s, a, b = tensors[k]
        bound = max(bound, sum(s2 for s2, a2, b2 in tensors if not (b2 < a or a2 > b)))
    return bound, [tensors[k][0] for k in range(1, n_own)]


def _lifetimes(space: ChainSpace, depth: int) -> list[tuple[int, int]]:
    """Tensor lifetimes of a depth-``depth`` network (the same for every width choice)."""
    return lower([op for layer in probe_layers(space, depth) for op in layer.ops]).lifetimes()


def _check_monotone(space: ChainSpace, t: DepthTables) -> None:
    """The reduction is exact only if every cost is non-decreasing in every width."""
    arrays = [("ROM", t.rom), ("FLOPs", t.flops), ("RAM", [o[None, :] for o in t.out]),
              ("RAM peak", t.peak), ("tail RAM", [t.tail_peak[None, :]]),
              ("tail ROM", [t.tail_rom[None, :]]), ("tail FLOPs", [t.tail_flops[None, :]]),
              ("persistent RAM", t.pers), ("tail persistent RAM", [t.tail_pers[None, :]])]
    if t.ram_shape == "tflm":
        arrays += [("RAM window", t.window), ("tail RAM window", [t.tail_window[None, :]])]
    for what, tabs in arrays:
        for i, tab in enumerate(tabs):
            if _decreases(tab, t.allowed[i] if tab.shape == t.allowed[i].shape else None):
                raise InvalidSpaceError(
                    f"space {space.name!r}: {what} of layer {i + 1} decreases when a width grows; "
                    "the reduction needs costs that are non-decreasing in every width"
                )


def _decreases(tab: np.ndarray, allowed: np.ndarray | None) -> bool:
    """Whether a cost falls when a width grows, between two cells the rules allow.

    Cells a rule forbids (e.g. the unequal pairs of an ``"eq"`` tie, whose layer would need a
    shortcut projection) never enter a network, so only allowed neighbours are compared.
    """
    ok = np.ones(tab.shape, bool) if allowed is None else allowed
    return bool(((tab[1:] < tab[:-1]) & ok[1:] & ok[:-1]).any()
                or ((tab[:, 1:] < tab[:, :-1]) & ok[:, 1:] & ok[:, :-1]).any())


@dataclass
class Completion:
    """Cost of the cheapest valid completion of layers k+1..L-1 (+ tail), given M_k = grid[k][a].

    Because every cost is non-decreasing in every width and the structural rules only relate
    neighbours, taking the smallest allowed width at every later layer is cheapest in ROM, FLOPs,
    both RAM buffers, the layer peaks and the persistent RAM at once; ``ok[k][a]`` is False when
    no valid completion exists.
    """

    rom: list[np.ndarray]
    flops: list[np.ndarray]
    even: list[np.ndarray]
    odd: list[np.ndarray]
    pair: list[np.ndarray]   # max layer peak (pairwise RAM models), tail included on completions
    pers: list[np.ndarray]   # sum of additive RAM terms (tflm persistent arena), tail included
    ok: list[np.ndarray]
    nxt: list[np.ndarray]

    @classmethod
    def empty(cls, depth: int) -> "Completion":
        return cls(*([None] * depth for _ in range(8)))  # type: ignore[arg-type]


def completion(t: DepthTables) -> Completion:
    L = t.depth
    zeros = np.zeros(t.sizes[-1], dtype=np.int64)
    c = Completion.empty(L)
    c.rom[L - 1], c.flops[L - 1] = t.tail_rom.copy(), t.tail_flops.copy()
    c.even[L - 1], c.odd[L - 1], c.pair[L - 1] = zeros, zeros.copy(), t.tail_peak.copy()
    c.pers[L - 1] = t.tail_pers.copy()
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
        c.pers[k] = t.pers[k + 1][a, nxt] + c.pers[k + 1][nxt]
        c.ok[k], c.nxt[k] = has, nxt
    return c


def layer_is_even(k: int) -> bool:
    """Layer k (0-based) is l_{k+1} of the paper; Eq. (4) puts even i in the input's buffer."""
    return (k + 1) % 2 == 0


def prefix(t: DepthTables) -> Completion:
    """Cost of the cheapest valid prefix l_1..l_k ending with M_k = grid[k][b] (layer k included).

    The mirror image of :func:`completion`: the smallest allowed width at every earlier layer.
    """
    L = t.depth
    p = Completion.empty(L)
    p.rom[0], p.flops[0] = t.rom[0][0].copy(), t.flops[0][0].copy()
    p.even[0] = np.full(t.sizes[0], t.in_bytes, np.int64)
    p.odd[0] = t.out[0].copy()
    p.pair[0] = t.peak[0][0].copy()
    p.pers[0] = t.pers[0][0].copy()
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
        p.pers[k] = p.pers[k - 1][prv] + t.pers[k][prv, b]
        p.ok[k], p.nxt[k] = has, prv
    return p


def ram_of(t: DepthTables, even: np.ndarray, odd: np.ndarray, pair: np.ndarray,
           pers: np.ndarray) -> np.ndarray:
    """The RAM the tables count for given buffer maxima / peak / additive part.

    Eq. 4: even + odd buffer; pairwise and tflm: the largest layer peak + the additive part (for
    ``tflm`` a lower bound, see :class:`DepthTables`).
    """
    if t.pairwise:
        return np.maximum(pair, t.floor) + pers
    return even + odd
