"""X^f of a space of named dimensions built directly as its DAG, with exact counts.

The counting DP of :mod:`.count` generalised from a chain to any coupling: the dimensions are
assigned in architecture order, and after dimension k only the *frontier* matters for what
may follow (the values of the assigned dimensions that a layer not yet complete still reads)
plus the units left of the one additive budget that binds. A backward DP over (dimension,
frontier state, units left) counts the feasible completions, ``S[k][state, r]``; for a fixed
state the completion sets only grow with r, so equal counts mean equal sets, and prefixes with
equal (frontier state, ``S``) form one class, as in :mod:`.dag` for chains. The forward pass
keeps one representative per class; :meth:`~.tree.DepthDag.from_edges` shares identical
subtrees. Work and memory follow the classes and the DP tables, not |X^f|.

Applies where one additive budget binds (ROM or FLOPs) and RAM is under the ``chain`` or
``ops`` model, under Eq. 4, or unconstrained. Eq. 4 is not a per-layer maximum (the even and the
odd buffers' maxima add, and a left-out block moves every later buffer to the other parity), so
there the DP counts the *relaxed* set (each buffer alone against the budget, a superset) and the
forward pass carries the prefix's exact Eq. 4 state, (even max, odd max, parity), in the class
key: a prefix's feasible completions are its relaxed completions whose buffers, joined with
that state, fit, so equal (frontier state, relaxed count, Eq. 4 state) still means equal
completion sets. Buffers enter in architecture order, so a layer's scope stays in the frontier
until every earlier layer has closed. The ``tflm`` replay looks at whole networks: those sets
are listed instead, and the relaxed DP first says how many prefixes that listing holds.
"""

from __future__ import annotations

from math import gcd, prod
from typing import Any, Sequence

import numpy as np

from ..cost.options import CostOptions
from ..targets.base import Target
from .count import MAX_AXIS_UNITS
from .dag import _classes
from .tree import DepthDag

#: the backward DP may do at most this many (state, value, unit) additions
MAX_DP_WORK = 2_000_000_000
#: classes one level may hold
MAX_CLASSES = 20_000_000
#: prefix counts are exact up to this (float sums stay exact far beyond it)
PREFIX_CAP = 2**40


def plan(fs: Sequence[Any], net: Target, options: CostOptions, *, relaxed: bool = False
         ) -> dict | None:
    """How the DP tracks the budgets (axis, unit, units, RAM masks), None where it cannot.

    ``relaxed``: under Eq. 4 with a RAM budget or ``tflm``, each layer's RAM term against the
    budget alone (a lower bound of the whole network's RAM): the DP then builds a superset
    whose prefixes are exactly the ones the listing keeps, so its size is known up front.
    """
    if net.ram is not None and options.ram_model in ("eq4", "tflm") and not relaxed:
        return None
    binds = [name for name, budget in (("rom", net.rom), ("flops", net.flops))
             if budget is not None and sum(int(getattr(f, name).max(initial=0)) for f in fs)
             > budget]
    if len(binds) > 1:
        return None
    axis = binds[0] if binds else None
    unit = 0
    if axis is not None:
        for f in fs:
            unit = gcd(unit, *np.unique(getattr(f, axis)).tolist())
    unit = unit or 1
    units = int(getattr(net, axis)) // unit if axis else 0
    if units > MAX_AXIS_UNITS:
        return None
    costs = [getattr(f, axis) // unit if axis else np.zeros_like(f.rom) for f in fs]
    masks = [f.ram <= net.ram if net.ram is not None else np.ones(f.rom.shape, bool)
             for f in fs]
    return {"axis": axis, "unit": unit, "units": units, "costs": costs, "masks": masks}


class _Frontier:
    """The frontier after each level: its dimensions and a mixed-radix state index.

    ``in_order``: a layer closes no earlier than every layer before it (Eq. 4's buffers
    alternate in architecture order, so each one is placed after the previous ones)."""

    def __init__(self, fs: Sequence[Any], sizes: Sequence[int], in_order: bool = False
                 ) -> None:
        n = len(sizes)
        self.close = [max(f.scope) if f.scope else -1 for f in fs]
        if in_order:
            self.close = np.maximum.accumulate(self.close).tolist()
        self.dims = []
        for k in range(-1, n):   # dims <= k read by a layer that closes after k
            self.dims.append(tuple(sorted({d for f, c in zip(fs, self.close) if c > k
                                           for d in f.scope if d <= k})))
        self.sizes = sizes

    def of(self, k: int) -> tuple[int, ...]:
        return self.dims[k + 1]

    def states(self, k: int) -> int:
        return prod(self.sizes[d] for d in self.of(k))

    def encode(self, k: int, pos: np.ndarray) -> np.ndarray:
        """State index after level k of rows of positions (columns = dimensions 0..k)."""
        idx = np.zeros(len(pos), np.int64)
        for d in self.of(k):
            idx = idx * self.sizes[d] + pos[:, d]
        return idx

    def decode(self, k: int) -> np.ndarray:
        """Every state after level k as positions (states x (k+1), non-frontier columns 0)."""
        dims = self.of(k)
        if not dims:
            return np.zeros((1, k + 1), np.int64)
        grids = np.indices([self.sizes[d] for d in dims]).reshape(len(dims), -1).T
        out = np.zeros((len(grids), k + 1), np.int64)
        for j, d in enumerate(dims):
            out[:, d] = grids[:, j]
        return out


def _closing(fs, p, fr: _Frontier, k: int, pos: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(units, ok) of the layers that close at level k, for rows of positions 0..k."""
    units = np.zeros(len(pos), np.int64)
    ok = np.ones(len(pos), bool)
    for f, c, m, close in zip(fs, p["costs"], p["masks"], fr.close):
        if close != k:
            continue
        idx = tuple(pos[:, d] for d in f.scope)
        units += c[idx] if idx else c
        ok &= m[idx] if idx else m
    return units, ok


def eq4_push(even: np.ndarray, odd: np.ndarray, parity: np.ndarray, here: np.ndarray,
             size: np.ndarray) -> None:
    """One layer's buffer into Eq. 4's state, in place: where the layer is present it is the
    next buffer (the input is buffer 0, even), and its output raises that parity's maximum."""
    parity += here
    is_even = here & (parity % 2 == 0)
    np.maximum(even, np.where(is_even, size, 0), out=even)
    np.maximum(odd, np.where(here & ~is_even, size, 0), out=odd)


class _Eq4:
    """Eq. 4's state of many prefixes: the even and odd buffers' maxima and the number of
    buffers so far (the network input is buffer 0, even), updated layer by layer in
    architecture order exactly as :func:`.dimensions._eq4_ram` counts whole networks."""

    def __init__(self, fs: Sequence[Any], ram: int, input_bytes: int) -> None:
        self.fs, self.ram = fs, ram
        self.levels = np.unique(np.concatenate(
            [[0, input_bytes], *[f.out.ravel() for f in fs if f.searched]]))
        self.start = np.array([[input_bytes, 0, 0]], np.int64)   # (even, odd, parity)

    def step(self, close: Sequence[int], k: int, pos: np.ndarray, state: np.ndarray
             ) -> tuple[np.ndarray, np.ndarray]:
        """(the state after the layers that close at level k, whether even + odd fits)."""
        even, odd, parity = (state[:, j].copy() for j in range(3))
        for f, c in zip(self.fs, close):
            if c == k and f.searched:
                eq4_push(even, odd, parity, f.at(f.present, pos, k), f.at(f.out, pos, k))
        return np.stack([even, odd, parity], 1), even + odd <= self.ram

    def key(self, state: np.ndarray) -> list[np.ndarray]:
        return [np.searchsorted(self.levels, state[:, 0]),
                np.searchsorted(self.levels, state[:, 1]), state[:, 2] % 2]


def build(fs: Sequence[Any], sizes: Sequence[int], p: dict, box: int,
          prefixes: list[int] | None = None, eq4: tuple[int, int] | None = None
          ) -> tuple[DepthDag | None, int] | None:
    """(the DAG, its exact size), or None where the DP would be too large.

    ``prefixes``, when given, receives the number of distinct feasible prefixes after each
    level (capped at :data:`PREFIX_CAP`): the paths into each class, summed.
    ``eq4 = (RAM budget, input bytes)``: Eq. 4 with a RAM budget, on the relaxed plan
    (``plan(..., relaxed=True)``); see the module docstring.
    """
    if box >= 2**62:
        return None
    n, R = len(sizes), p["units"]
    fr = _Frontier(fs, sizes, in_order=eq4 is not None)
    e4 = _Eq4(fs, *eq4) if eq4 is not None else None
    work = sum(fr.states(k - 1) * sizes[k] * (R + 1) for k in range(n))
    if work > MAX_DP_WORK:
        return None
    # constant layers (no scope): their units and masks come first
    const_units, const_ok = _closing(fs, p, fr, -1, np.zeros((1, 0), np.int64))
    R0 = R - int(const_units[0])
    if R0 < 0 or not const_ok[0]:
        return None, 0
    if e4 is not None:
        ram_state, fits = e4.step(fr.close, -1, np.zeros((1, 0), np.int64), e4.start)
        if not fits[0]:
            return None, 0
    S: list[np.ndarray] = [None] * (n + 1)   # type: ignore[list-item]
    S[n] = np.ones((1, R + 1), np.int64)
    for k in range(n - 1, -1, -1):
        prev = fr.decode(k - 1)                          # states before dimension k
        table = np.zeros((len(prev), R + 1), np.int64)
        for v in range(sizes[k]):
            pos = np.concatenate([prev, np.full((len(prev), 1), v)], axis=1)
            units, ok = _closing(fs, p, fr, k, pos)
            nxt = fr.encode(k, pos)
            for s in np.nonzero(ok & (units <= R))[0]:
                u = int(units[s])
                table[s, u:] += S[k + 1][nxt[s], :R + 1 - u]
        S[k] = table
    total = int(S[0][0, R0])
    if total == 0:
        return None, 0
    # forward: one representative per class (frontier state, completions count)
    rep = np.zeros((1, 0), np.int64)
    left = np.array([R0], np.int64)
    paths = np.ones(1, np.int64)        # prefixes that reach each class (capped)
    edges = []
    for k in range(n):
        if len(rep) * sizes[k] > MAX_CLASSES:
            return None
        parent = np.repeat(np.arange(len(rep)), sizes[k])
        ext = np.concatenate([rep[parent], np.tile(np.arange(sizes[k]), len(rep))[:, None]],
                             axis=1)
        units, ok = _closing(fs, p, fr, k, ext)
        rest = left[parent] - units
        ok &= rest >= 0
        state = fr.encode(k, ext)
        if e4 is not None:
            ram_ext, fits = e4.step(fr.close, k, ext, ram_state[parent])
            ok &= fits
        count = np.zeros(len(ext), np.int64)
        count[ok] = S[k + 1][state[ok], rest[ok]]
        ok &= count > 0
        if prefixes is not None:
            prefixes.append(min(int(paths[parent[ok]].sum()), PREFIX_CAP))
        if k == n - 1:
            mask = np.zeros((len(rep), sizes[k]), bool)
            mask[parent[ok], ext[ok, -1]] = True
            dag = DepthDag.from_edges(edges, mask, n) if n > 1 else \
                DepthDag.from_leaf_masks([mask], [], 1)
            if e4 is not None:   # the DP counted the relaxed set; the DAG is exact
                total = 0 if dag is None else dag.size
            return dag, total
        par, ext, state, count, rest = parent[ok], ext[ok], state[ok], count[ok], rest[ok]
        key = [state, count]
        if e4 is not None:
            ram_ext = ram_ext[ok]
            key += e4.key(ram_ext)
        first, cls = _classes(key)
        edges.append((par, ext[:, -1], cls))
        if prefixes is not None:
            paths = np.minimum(np.bincount(cls, weights=paths[par]),
                               PREFIX_CAP).astype(np.int64)
        rep, left = ext[first], rest[first]
        if e4 is not None:
            ram_state = ram_ext[first]
    raise AssertionError("unreachable")  # pragma: no cover


__all__ = ["build", "eq4_push", "plan"]
