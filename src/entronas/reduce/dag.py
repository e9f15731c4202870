"""X^f_L built directly as its DAG: work and memory follow the DAG, not |X^f|.

Enumeration (:mod:`.enumerate`) keeps every feasible prefix, although prefixes whose feasible
completions are one and the same set all lead to one subtree. Here one prefix stands for each
class of prefixes whose completions are provably equal, so a level holds classes, not prefixes
(``dscnn-kws`` at ROM 2 MB / RAM 512 KiB: about a hundred classes for 12 million members).

Why the class key is exact. Take one additive budget, tracked in integer cost units (the
counting DP's :class:`~.count.Axis`: ROM or FLOPs, whichever binds, the other one inactive or
implied). The completions of a prefix that ends in width ``w`` at layer k with ``r`` units left,
restricted to those that pass the budget and every rule that looks at one transition (structure,
the pairwise RAM peaks, the tail), form a set that only grows with r; so its size, the suffix
table entry ``S[k][w, r]`` of :func:`~.count.suffix_tables`, names it. Eq. 4's RAM looks at the
prefix only through its two buffer maxima. Prefixes with equal (w, even max, odd max,
``S[k][w, r]``) therefore have equal feasible completions. Classes with different keys may still
have equal completions; hashing subtrees bottom-up (:meth:`~.tree.DepthDag.from_edges`) merges
those, so the result is the same minimal DAG that enumeration builds, node for node.

Not covered, and left to enumeration: two binding additive budgets, the ``tflm`` convention
(its exact planner replay looks at the whole network), and boxes whose counts need more than
int64.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..cost.options import CostOptions
from ..targets.base import Target
from .count import Axis, _Rules, count_dtype, partitions, suffix_tables
from .enumerate import MAX_CELLS, _fits, extend, first_layer
from .tables import Completion, DepthTables
from .tree import DepthDag

#: the suffix tables may take at most this many bytes (per depth) before enumeration is used
MAX_TABLE_BYTES = 256 * 2**20


def dag_applies(t: DepthTables, axis: Axis | None) -> bool:
    """Whether :func:`build_dag` can build this depth (else: enumerate it)."""
    if axis is None or t.ram_shape == "tflm" or count_dtype(t) is object:
        return False
    return sum(t.sizes) * (axis.units + 1) * 8 <= MAX_TABLE_BYTES


def build_dag(t: DepthTables, comp: Completion, target: Target, options: CostOptions,
              axis: Axis, max_cells: int = MAX_CELLS) -> DepthDag | None:
    """The feasible set of one depth as a :class:`DepthDag` (None if empty); see the module
    docstring. ``target`` holds the net budgets; ``axis`` is the one that can bind.

    Raises MemoryError before a level of more than ``max_cells`` (class, next width) cells.
    """
    L = t.depth
    S = suffix_tables(_Rules(t, target, options), axis, (None, None))
    costs = [axis.layer(t, k) for k in range(L)]
    # Eq. 4's buffer maxima enter the key only when RAM can bind at all
    ram_binds = any(p.even_cap is not None for p in partitions(t, target, options))
    levels = np.unique(np.concatenate([[t.in_bytes], *t.out]))

    def key_columns(k: int, last: np.ndarray, q: dict) -> list[np.ndarray]:
        cols = [last, S[k].ravel().take(last * (axis.units + 1) + q["left"])]
        if ram_binds:
            cols += [np.searchsorted(levels, q["even"]), np.searchsorted(levels, q["odd"])]
        return cols

    w0 = np.arange(t.sizes[0])
    p = dict(first_layer(t), left=axis.units - costs[0][0])
    keep = _fits(p, comp, 0, w0, target, t)
    if L == 1:
        return DepthDag.from_leaf_masks([keep[None, :]], [], L) if keep.any() else None
    if not keep.any():
        return None
    cur = {n: v[keep] for n, v in p.items()}
    cur["last"] = w0[keep]
    rep, cls = _classes(key_columns(0, cur["last"], cur))
    edges = [(np.zeros(len(cls), np.int64), cur["last"], cls)]
    cur = {n: v[rep] for n, v in cur.items()}
    for k in range(1, L):
        n_cls = len(cur["last"])
        if n_cls * t.sizes[k] > max_cells:
            raise MemoryError(f"{n_cls:,} classes of feasible prefixes at layer {k} "
                              f"(x {t.sizes[k]} widths)")
        last = cur["last"]
        q = extend(t, k, last, cur)
        q["left"] = cur["left"][:, None] - costs[k][last]
        cols = np.broadcast_to(np.arange(t.sizes[k])[None, :], (n_cls, t.sizes[k]))
        mask = t.allowed[k][last] & _fits(q, comp, k, cols, target, t)
        if k == L - 1:
            return DepthDag.from_edges(edges, mask, L)
        parent, nxt = np.nonzero(mask)
        q = {n: np.broadcast_to(v, mask.shape)[parent, nxt] for n, v in q.items()}
        q["last"] = nxt
        np.maximum(q["left"], 0, out=q["left"])
        rep, cls = _classes(key_columns(k, nxt, q))
        edges.append((parent, nxt, cls))
        cur = {n: v[rep] for n, v in q.items()}
    raise AssertionError("unreachable")  # pragma: no cover


def _classes(cols: list[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """(one representative row per distinct key, class of every row); classes are numbered in
    the order of their keys (deterministic), the representative is a class's first row."""
    key = _packed(cols)
    if key is not None:  # one int64 column: a single sort instead of a 4-column lexsort
        _, first, inverse = np.unique(key, return_index=True, return_inverse=True)
        return first, inverse.ravel()
    order = np.lexsort(cols[::-1])
    keys = np.stack([c[order] for c in cols], 1)
    new = np.ones(len(order), bool)
    new[1:] = (keys[1:] != keys[:-1]).any(axis=1)
    ids = np.cumsum(new) - 1
    cls = np.empty(len(order), np.int64)
    cls[order] = ids
    return order[new], cls


def _packed(cols: list[np.ndarray]) -> np.ndarray | None:
    """The key columns as one mixed-radix int64 in the same lexicographic order; None when
    their ranges need more than 62 bits."""
    key = np.zeros(len(cols[0]), np.int64)
    span = 1
    for c in cols:
        lo = int(c.min()) if len(c) else 0
        r = (int(c.max()) - lo + 1) if len(c) else 1
        span *= r
        if span >= 2 ** 62:
            return None
        key = key * r + (c - lo)
    return key


#: a counted set is built as its DAG when no level needs more (class, width) cells than this
#: (~200 MB of working arrays; the full ConvMixer X^f on paper-small needs ~0.2M)
DAG_OF_COUNTED_CELLS = 4_000_000
#: why a counted set is not built as its DAG, said in one line by reduce and by the candidates
NO_DAG_REASON = ("its DAG cannot be built (counts above int64, two binding budgets or too "
                 "many prefix classes)")


def counted_as_tree(counted: Any, max_cells: int = DAG_OF_COUNTED_CELLS) -> Any:
    """The same X^f as a counted set, built as its DAG (a FeasibleTree; members in
    lexicographic order per depth), or None where a depth cannot be built that way (counts
    above int64, two binding budgets, a level over ``max_cells``). Under ``tflm`` a counted
    set is the one its monotone upper bound of the arena admits, and that is built the same
    way.

    Why: a set too large to list may still have a small DAG (the full ConvMixer X^f on
    ``paper-small``: 4.8e11 networks, 27,933 nodes), and the exact entropy distribution
    (:mod:`entronas.proxy.distribution`) is counted on a DAG.
    """
    import os
    from concurrent.futures import ThreadPoolExecutor

    from .tables import completion
    from .tree import FeasibleTree

    counters = counted.counters
    if not all(dag_applies(c.t, c.axis) for c in counters.values()):
        return None

    def one(depth: int) -> DepthDag | None:
        c = counters[depth]
        try:
            dag = build_dag(c.t, completion(c.t), c.rules.target, c.rules.options, c.axis,
                            max_cells)
        except MemoryError:
            return None
        if dag is None or dag.size != c.count:  # pragma: no cover - a counting bug
            raise AssertionError(f"depth {depth}: DAG {0 if dag is None else dag.size:,} "
                                 f"members, counted {c.count:,}")
        return dag

    # depths in threads, deepest first (numpy's sorts release the GIL): the full ConvMixer
    # X^f builds in 0.9-1.6 s on 2 cores against 1.6-2.1 s one depth after another
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else 1
    order = sorted(counters, reverse=True)
    with ThreadPoolExecutor(max(1, min(len(order), cores, 4))) as pool:
        built = dict(zip(order, pool.map(one, order)))
    if any(dag is None for dag in built.values()):
        return None
    return FeasibleTree(counted.space, {d: built[d] for d in sorted(built)}, counted.meta)
