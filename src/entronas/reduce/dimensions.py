"""X -> X^f for spaces of named dimensions (:mod:`entronas.space.dimensions`), exactly.

A layer's cost here depends on its scope (a few dimensions, not its neighbours only), so the
per-(previous width, width) tables of :mod:`.tables` do not apply. Instead every slot gets a
factor table over its scope (ROM, FLOPs, its RAM term), built from the same layer
descriptions the models are built from, and checked monotone in every dimension. The
reduction then assigns the dimensions in architecture order, level by level, vectorised:
a prefix is kept when the cheapest completion (every unassigned dimension at its smallest
value, which is a lower bound because the factors are monotone) fits. So the work is
proportional to the feasible prefixes, never to the box, for any coupling between
dimensions. At the last level the costs are exact: ROM and FLOPs are sums of factors, the
``chain`` and ``ops`` RAM a maximum of them, Eq. 4's even/odd buffers are counted over the
layers present, and ``tflm``'s planned arena is replayed for every survivor.

Where at most one additive budget binds and RAM is a per-layer maximum (``chain`` / ``ops``)
or Eq. 4's even/odd buffers (carried as a small state in the DP: the largest even and odd
buffer so far and the parity), the set is built directly as its DAG with exact counts
instead (:mod:`.dimensions_dag`: a counting DP over the frontier of open couplings), of any
size that fits in int64. Listing is the fallback (``tflm``'s planned arena, or ROM and FLOPs
both binding): a set with more than ``limit`` feasible prefixes at one dimension is refused
there in one line.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from functools import lru_cache
from typing import Callable

import numpy as np

from .._core.errors import InvalidSpaceError
from ..cost.flops import layer_flops
from ..cost.options import CostOptions
from ..cost.planner import greedy_plan_batch
from ..cost.ram import arena_from_parts, join_tensors, layer_graph, layer_peak
from ..cost.rom import layer_rom
from ..space.base import ChainSpace
from ..space.dimensions import slot_layer
from ..targets.base import Target
from .count import NotCountableError
from .dimensions_dag import build as build_dag
from .dimensions_dag import eq4_push
from .dimensions_dag import plan as dag_plan
from .tree import DepthDag, FeasibleTree

#: feasible prefixes one level may hold before the reduction refuses (memory: ~8 B a value)
PREFIX_LIMIT = 20_000_000


@dataclass
class _Factor:
    """One slot's costs over its scope: arrays indexed by the scope's grid positions."""

    name: str
    scope: tuple[int, ...]          # dimension indices (architecture order)
    rom: np.ndarray
    flops: np.ndarray
    ram: np.ndarray                 # the slot's RAM term (see _ram_term)
    out: np.ndarray                 # output bytes (Eq. 4's buffer), 0 when left out
    present: np.ndarray             # bool
    searched: bool = True

    def at(self, table: np.ndarray, pos: np.ndarray, upto: int) -> np.ndarray:
        """``table`` at the rows of ``pos`` (N x n positions), unassigned (> upto) at 0."""
        idx = tuple(pos[:, d] if d <= upto else np.zeros(len(pos), np.int64)
                    for d in self.scope)
        return table[idx] if idx else np.broadcast_to(table, (len(pos),))


def check_space(space: ChainSpace, options: CostOptions, max_cells: int) -> None:
    """Before any work: the factor tables' size (an oversized job) and, for ``tflm``, layer
    and op kinds its constants were fitted on, named in one line."""
    dims, slots = space.backbone_impl.structure(space)
    index = {d.name: k for k, d in enumerate(dims)}
    cells = sum(math.prod(len(dims[index[n]].grid) for n in s.refs()) for s in slots)
    if cells > max_cells:
        raise InvalidSpaceError(
            f"space {space.name!r} needs {cells:,} layer costs to reduce, over the limit of "
            f"{max_cells:,}; narrow the grids of the dimensions one block depends on")
    if options.convention == "tflm":
        from ..cost.tflm import check_calibrated, check_tflm_codes
        from ..space.lowering import lower

        smallest = {d.name: d.grid[0] for d in dims}
        layers = []
        for j, s in enumerate(slots):   # every option of every slot, at the smallest widths
            for v in range(len(s.options)):
                value = dict(smallest, **({s.choice: v} if s.choice else {}))
                if s.present:
                    value[s.present[0]] = dims[index[s.present[0]]].grid[-1]
                layer = slot_layer(space, j, tuple(value[n] for n in s.refs()))
                if layer is not None:
                    layers.append(layer)
        check_calibrated(layers, f"space {space.name!r}")
        check_tflm_codes(lower([op for layer in layers for op in layer.ops]).codes(),
                         f"space {space.name!r}")


def _ram_term(layer, options: CostOptions, first: bool) -> int:
    """A slot's share of the RAM: exact for ``chain`` (input + output) and ``ops`` (its live
    peak), a lower bound of TFLM's arena for ``tflm`` (its live peak), its output buffer for
    Eq. 4 (even + odd maxima are at least any one buffer)."""
    if options.ram_model == "eq4":
        return options.activation_bytes * layer.outputs
    return layer_peak(layer, options, first=first)


def factors(space: ChainSpace, options: CostOptions) -> list[_Factor]:
    """Every slot's factor tables, then the tail's (scope: the last slot's width)."""
    dims, slots = space.backbone_impl.structure(space)
    index = {d.name: k for k, d in enumerate(dims)}
    out = []
    for j, slot in enumerate(slots):
        names = slot.refs()
        shape = tuple(len(dims[index[n]].grid) for n in names)
        t = {k: np.zeros(shape, np.int64) for k in ("rom", "flops", "ram", "out")}
        present = np.zeros(shape, bool)
        for pos in np.ndindex(*shape):
            values = tuple(dims[index[n]].grid[p] for n, p in zip(names, pos))
            layer = slot_layer(space, j, values)
            if layer is None:
                continue
            present[pos] = True
            t["rom"][pos] = layer_rom(layer, options, first=j == 0)
            t["flops"][pos] = layer_flops(layer, options)
            t["ram"][pos] = _ram_term(layer, options, j == 0)
            t["out"][pos] = options.activation_bytes * layer.outputs
        out.append(_Factor(slot.name, tuple(index[n] for n in names), t["rom"], t["flops"],
                           t["ram"], t["out"], present))
    last = slots[-1].width
    scope = (index[last],) if isinstance(last, str) else ()
    grid = dims[index[last]].grid if isinstance(last, str) else (last,)
    from ..space.dimensions import tail_layers

    tails = [tail_layers(space, int(c)) for c in grid]
    def col(fn):
        return np.array([sum(fn(layer) for layer in t) for t in tails], np.int64)
    rom = col(lambda layer: layer_rom(layer, options))
    flops = col(lambda layer: layer_flops(layer, options))
    ram = np.array([max([layer_peak(layer, options) for layer in t], default=0)
                    if options.ram_model in ("ops", "tflm") else 0 for t in tails], np.int64)
    if not scope:
        rom, flops, ram = rom.reshape(()), flops.reshape(()), ram.reshape(())
    zeros = np.zeros_like(rom)
    out.append(_Factor("classifier", scope, rom, flops, ram, zeros, zeros > 0,
                       searched=False))
    return out


def check_monotone(space: ChainSpace, fs: list[_Factor]) -> None:
    """Refuse a space whose costs fall somewhere a dimension grows (the bound would prune
    members): one line naming the layer, the dimension and the two values."""
    dims, _ = space.backbone_impl.structure(space)
    for f in fs:
        for what in ("rom", "flops", "ram"):
            table = getattr(f, what)
            for axis, d in enumerate(f.scope):
                drop = np.diff(table, axis=axis) < 0
                if drop.any():
                    at = np.argwhere(drop)[0]
                    g = dims[d].grid
                    raise InvalidSpaceError(
                        f"space {space.name!r}: layer {f.name!r} costs less {what.upper()} "
                        f"at {dims[d].name} = {g[at[axis] + 1]} than at {g[at[axis]]}; every "
                        "cost must grow with every dimension (list a choice's options "
                        "cheapest first, identity first)")


def _bounds(fs: list[_Factor], pos: np.ndarray, upto: int, options: CostOptions
            ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(ROM, FLOPs, RAM) of the cheapest completion of each prefix (exact at the last level
    for ROM and FLOPs; RAM exact for ``chain`` / ``ops``, a lower bound otherwise)."""
    n = len(pos)
    rom = np.zeros(n, np.int64)
    flops = np.zeros(n, np.int64)
    ram = np.zeros(n, np.int64)
    for f in fs:
        rom += f.at(f.rom, pos, upto)
        flops += f.at(f.flops, pos, upto)
        np.maximum(ram, f.at(f.ram, pos, upto), out=ram)
    return rom, flops, ram


def factor_sums(space: ChainSpace, values: np.ndarray, options: CostOptions
                ) -> tuple[np.ndarray, np.ndarray]:
    """(ROM, FLOPs) without the fixed parts of many architectures (rows of values)."""
    dims, _ = space.backbone_impl.structure(space)
    pos = np.stack([np.searchsorted(np.asarray(d.grid), values[:, k])
                    for k, d in enumerate(dims)], axis=1) if len(values) else \
        np.zeros((0, len(dims)), np.int64)
    rom, flops, _ = _bounds(_factors(space, options), pos, len(dims) - 1, options)
    return rom, flops


@lru_cache(maxsize=32)
def _factors(space: ChainSpace, options: CostOptions) -> list[_Factor]:
    return factors(space, options)


def _eq4_ram(fs: list[_Factor], pos: np.ndarray, input_bytes: int) -> np.ndarray:
    """Eq. 4 exactly: the input and the present layers' buffers alternate even / odd."""
    n = len(pos)
    even = np.full(n, input_bytes, np.int64)
    odd = np.zeros(n, np.int64)
    parity = np.zeros(n, np.int64)      # buffers so far (the input is buffer 0)
    last = len(pos[0]) - 1 if n else 0
    for f in fs:
        if f.searched:
            eq4_push(even, odd, parity, f.at(f.present, pos, last), f.at(f.out, pos, last))
    return even + odd


def reduce_dimensions(space: ChainSpace, target: Target, net: Target, options: CostOptions,
                      progress: Callable[[str], None] | None = None,
                      limit: int = PREFIX_LIMIT) -> tuple[FeasibleTree, dict]:
    """The exact X^f of a space of named dimensions as a one-depth :class:`FeasibleTree`
    (``net``: the budgets less reserves and fixed parts), and what the report needs."""
    dims, _ = space.backbone_impl.structure(space)
    n = len(dims)
    start = time.perf_counter()
    fs = factors(space, options)
    check_monotone(space, fs)
    inf = np.int64(2**62)
    budgets = [inf if b is None else np.int64(b) for b in (net.rom, net.flops, net.ram)]
    sizes = [len(d.grid) for d in dims]
    info: dict = {"method": "dag"}
    built = None
    # Eq. 4 with a RAM budget: the relaxed DP, the exact buffers carried in the class key
    eq4 = (int(net.ram), options.input_bytes * math.prod(space.input_shape)) \
        if options.ram_model == "eq4" and net.ram is not None else None
    p = dag_plan(fs, net, options, relaxed=eq4 is not None)
    if p is not None:   # built as its DAG, counted exactly
        built = build_dag(fs, sizes, p, space.size(), eq4=eq4)
    if built is not None:
        dag, total = built
        info["seconds"] = time.perf_counter() - start
        if dag is None:
            return None, info
        assert dag.size == total, (dag.size, total)
        return FeasibleTree(space, {n: dag}, {}), info
    info["method"] = "enumerate"
    _check_listing_size(space, dims, fs, sizes, net, options, limit)
    pos = np.zeros((1, 0), np.int64)
    parents: list[np.ndarray] = []   # per level: each kept prefix's parent prefix
    lasts: list[np.ndarray] = []     # per level: each kept prefix's last grid position
    for k in range(n):
        if len(pos) * sizes[k] > limit:
            raise _too_many(space, dims[k].name, len(pos) * sizes[k], options, limit)
        parent = np.repeat(np.arange(len(pos)), sizes[k])
        ext = np.concatenate([pos[parent], np.tile(np.arange(sizes[k]), len(pos))[:, None]],
                             axis=1)
        rom, flops, ram = _bounds(fs, ext, k, options)
        if k == n - 1 and options.ram_model == "eq4":
            ram = _eq4_ram(fs, ext, options.input_bytes * math.prod(space.input_shape))
        keep = (rom <= budgets[0]) & (flops <= budgets[1]) & (ram <= budgets[2])
        if k == n - 1 and options.ram_model == "tflm" and net.ram is not None:
            keep &= _tflm_fits(space, dims, ext, keep, target, options, progress)
        parents.append(parent[keep])
        pos = ext[keep]
        lasts.append(pos[:, -1])
        if not len(pos):
            break
        if progress and k < n - 1:
            progress(f"dimension {dims[k].name}: {len(pos):,} feasible prefixes")
    info["seconds"] = time.perf_counter() - start
    if not len(pos):
        return None, info
    if n == 1:
        mask = np.zeros((1, sizes[0]), bool)
        mask[0, pos[:, 0]] = True
        dag = DepthDag.from_leaf_masks([mask], [], 1)
    else:
        # prefixes of length n-1 are the classes; the last level's survivors are its mask
        edges = [(parents[j], lasts[j], np.arange(len(parents[j]))) for j in range(n - 1)]
        mask = np.zeros((len(parents[n - 2]), sizes[-1]), bool)
        mask[parents[n - 1], pos[:, -1]] = True
        dag = DepthDag.from_edges(edges, mask, n)
    return FeasibleTree(space, {n: dag}, {}), info


def _too_many(space: ChainSpace, dim: str, candidates: int, options: CostOptions, limit: int,
              at_most: int | None = None) -> NotCountableError:
    bound = "" if at_most is None else f"; at most {at_most:,} networks fit"
    return NotCountableError(
        f"X^f of {space.name!r} needs {candidates:,} candidate prefixes at dimension {dim!r}, "
        f"over the listing limit of {limit:,} ({options.describe()} looks at whole networks, "
        f"so it is not counted{bound}); narrow the grids or tighten the budget (--costs paper "
        "builds it as a DAG where at most one of ROM and FLOPs binds)")


def _check_listing_size(space: ChainSpace, dims, fs: list[_Factor], sizes: list[int],
                        net: Target, options: CostOptions, limit: int) -> None:
    """Refuse an oversized listing before it allocates: the relaxed DP (each layer's RAM term
    alone against the budget) counts the prefixes the listing keeps at every level, exactly,
    in a fraction of the time (where that DP applies; otherwise the listing checks as it
    goes)."""
    relaxed = dag_plan(fs, net, options, relaxed=True)
    if relaxed is None:
        return
    prefixes: list[int] = []
    built = build_dag(fs, sizes, relaxed, space.size(), prefixes)
    if built is None:
        return
    kept = 1
    for k in range(len(sizes)):
        if kept * sizes[k] > limit:   # the relaxed set's size bounds |X^f| from above
            raise _too_many(space, dims[k].name, kept * sizes[k], options, limit, built[1])
        if k < len(prefixes):
            kept = prefixes[k]


def _tflm_fits(space: ChainSpace, dims, ext: np.ndarray, keep: np.ndarray, target: Target,
               options: CostOptions, progress: Callable[[str], None] | None) -> np.ndarray:
    """TFLM's planned arena (replayed) of every member the lower bound keeps, against the
    user's budget: the deployed RAM, exactly as :func:`entronas.cost.model.estimate`.

    Each slot's lowering is computed once per value of its scope; members whose layers lower
    to the same tensor lifetimes (the same blocks chosen) are replayed in one vectorised batch
    (:func:`entronas.cost.planner.greedy_plan_batch`)."""
    from ..cost.tflm import layer_arena_parts
    from ..space.dimensions import tail_layers

    _, slots = space.backbone_impl.structure(space)
    index = {d.name: k for k, d in enumerate(dims)}
    scopes = [tuple(index[n] for n in s.refs()) for s in slots]
    last = slots[-1].width
    cache: list[dict] = [{} for _ in range(len(slots) + 1)]

    def info(j: int, key: tuple[int, ...]):
        hit = cache[j].get(key)
        if hit is None:
            if j == len(slots):   # the tail, by the last width
                layers = tail_layers(space, last if isinstance(last, int) else
                                     dims[index[last]].grid[key[0]])
            else:
                layer = slot_layer(space, j, tuple(dims[d].grid[p]
                                                   for d, p in zip(scopes[j], key)))
                layers = () if layer is None else (layer,)
            hit = cache[j][key] = [(layer_graph(x), layer_arena_parts(x, options.dtype, j == 0))
                                   for x in layers]
        return hit

    tail_scope = (index[last],) if isinstance(last, str) else ()
    ok = keep.copy()
    idx = np.nonzero(keep)[0]
    P = ext[idx]
    # the option every slot takes (-1: left out); equal rows lower to equal lifetimes
    struct = np.empty((len(P), len(slots)), np.int64)
    for j, s in enumerate(slots):
        opt = P[:, index[s.choice]] if s.choice is not None else np.zeros(len(P), np.int64)
        absent = np.array([o is None for o in s.options])[opt]
        if s.present is not None:
            d = index[s.present[0]]
            absent |= np.asarray(dims[d].grid)[P[:, d]] <= s.present[1]
        struct[:, j] = np.where(absent, -1, opt)
    code = np.zeros(len(P), np.int64)   # one int per row: a 1-D unique, not a row-wise one
    for j, s in enumerate(slots):
        code = code * (len(s.options) + 1) + struct[:, j] + 1
    _, first_row, inverse = np.unique(code, return_index=True, return_inverse=True)
    patterns, inverse = struct[first_row], inverse.ravel()
    fixed_floor, fixed_persistent = arena_from_parts([], options)
    t0 = time.perf_counter()
    for g in range(len(patterns)):
        rows = np.nonzero(inverse == g)[0]
        cols, graphs = [], []
        floor = np.full(len(rows), fixed_floor, np.int64)
        persistent = np.full(len(rows), fixed_persistent, np.int64)
        for j in range(len(slots) + 1):
            if j < len(slots) and patterns[g, j] < 0:
                continue
            scope = list(scopes[j] if j < len(slots) else tail_scope)
            if scope:
                sub = P[rows][:, scope]
                code = np.zeros(len(rows), np.int64)
                for c, d in enumerate(scope):
                    code = code * len(dims[d].grid) + sub[:, c]
                _, at, which = np.unique(code, return_index=True, return_inverse=True)
                keys = sub[at]
            else:
                keys, which = np.zeros((1, 0), np.int64), np.zeros(len(rows), np.int64)
            infos = [info(j, tuple(k)) for k in keys.tolist()]
            which = which.ravel()
            for li in range(len(infos[0])):   # a slot is one layer, the tail none or one
                graphs.append(infos[0][li][0])
                elems = np.array([x[li][0][0] for x in infos], np.int64)[which]
                parts = np.array([x[li][1] for x in infos], np.int64)[which]
                per = np.full(elems.shape[1], options.activation_bytes, np.int64)
                if not cols:   # the network input
                    per[0] = options.input_bytes
                cols.append(-(-(elems * per) // 16) * 16 if not cols
                            else -(-(elems[:, 1:] * per[1:]) // 16) * 16)
                floor += parts[:, 0]
                persistent += parts[:, 1]
        sizes = np.concatenate(cols, axis=1)
        life = join_tensors(graphs, options)[1]
        plan = np.concatenate([greedy_plan_batch(sizes[k:k + 50_000], life)
                               for k in range(0, len(sizes), 50_000)])
        ok[idx[rows]] = np.maximum(plan, floor) + persistent <= target.available("ram")
        if progress and time.perf_counter() - t0 > 5:
            progress(f"TFLM arena replay: {g + 1:,} of {len(patterns):,} block patterns")
            t0 = time.perf_counter()
    return ok


__all__ = ["PREFIX_LIMIT", "check_monotone", "factors", "reduce_dimensions"]
