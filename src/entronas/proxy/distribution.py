"""The exact distribution of Eq. 6 over X^f, and exact draws of one entropy value.

Why: the paper clusters the entropies of *all* of X^f. A set too large to list (the full
ConvMixer X^f on ``paper-small`` has 4.8e11 networks) was clustered on a uniform pool of it, so
its cluster boundaries were estimates and its draws came from the pool only. Eq. 6 is
``log2(u_L)`` times a sum of per-layer terms, and X^f is a DAG (:mod:`entronas.reduce.tree`)
whose nodes at level j stand for sets of completions; so the multiset of suffix sums below
every node can be counted bottom-up, each node's histogram being its children's histograms
shifted by the slot's term and merged. The root's histogram is the exact distribution of Eq. 6
over X^f: (distinct value, how many networks have it). Clusters are fitted on it (weighted
k-means), and the r-th network of a given entropy value is found by walking one path down,
choosing at every level the slot whose child still holds the remaining sum (exact unranking
restricted to one value; no pool, no rejection).

Exact arithmetic. Every per-layer term is rounded to an integer multiple of a power-of-two
quantum, small enough that the rounding of a whole network stays below a sixteenth of the tie
tolerance of :mod:`.clusters` (within which two entropies are one value anyway). Sums of these
codes are exact integers: equal multisets of terms give the same code whatever the summation
order, so ties are ties by construction. ``u_L`` enters per group of last widths with equal
``u_L`` (a group number above the sum's bits), and ``H = log2(u_L) * code * quantum``.

A layer whose term depends on the previous width (Eq. 6's omega of an inverted-residual block
whose expansion follows its input) is handled by splitting each DAG node of that level by the
position its parent took, so that every slot's term is fixed again. A space of named dimensions
(:mod:`entronas.space.dimensions`) is the same walk with a wider context: a slot's term reads
its scope (a tied stage width, an inner width, a block choice), so a node is split by the
positions of the earlier dimensions that a slot not yet closed still reads. Where it does not
apply (said in one line, :class:`DistributionUnavailable`): a DAG whose histograms would exceed
``max_entries``, or codes above 52 bits.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from .._core.errors import EntronasError
from .clusters import TIE_TOLERANCE
from .entropy import entropy_tables

#: histogram entries (16 B each) the distribution may hold at once, kept levels and the level
#: being merged with its input: 512 MB (checked chunk by chunk while merging)
MAX_ENTRIES = 32_000_000
#: nodes merged per call of the kernel: bounds its scratch memory (upper bound of entries)
CHUNK_ENTRIES = 4_000_000


class DistributionUnavailable(EntronasError):
    """The exact distribution cannot be built for this feasible set (the reason says why)."""


@dataclass
class _Depth:
    """One depth: the DAG flattened (global node ids, level by level) with suffix histograms."""

    depth: int
    stored: np.ndarray       # per level: 1 where its nodes' histograms are kept
    node_ptr: np.ndarray     # slots of global node n: node_ptr[n] .. node_ptr[n+1]
    slot_pos: np.ndarray     # grid position of every slot
    slot_child: np.ndarray   # global child node (-1 on the last level)
    slot_code: np.ndarray    # the slot's term code (plus the u_L group on the last level)
    slot_before: np.ndarray  # members in the earlier slots of the same node (DAG rank)
    h_off: np.ndarray        # suffix histogram of global node n: h_off[n] .. h_off[n+1]
    h_val: np.ndarray
    h_cnt: np.ndarray
    keys: np.ndarray         # the root's distinct code sums, ascending
    counts: np.ndarray       # members per key

    @property
    def entries(self) -> int:
        return len(self.h_val)


def _terms(space: Any, depth: int, output: str) -> tuple[list[np.ndarray], np.ndarray]:
    """log2(omega) per layer as a (previous position x position) table (one row where the term
    does not depend on the previous width), and log2(u_L) per last position."""
    logw, log_u = entropy_tables(space, depth, output)
    terms = []
    for m in logw:
        m = np.asarray(m, np.float64)
        terms.append(m[:1] if m.shape[0] > 1 and np.array_equal(m, np.broadcast_to(m[:1],
                                                                                    m.shape))
                     else m)
    return terms, np.asarray(log_u, np.float64)


def _flatten(dag: Any, codes: list[np.ndarray]) -> tuple[np.ndarray, ...]:
    """(node_ptr, slot_pos, slot_child, slot_code, slot_before, level_node_start) of one
    DepthDag of a chain space, each slot carrying its term's code.

    Where a layer's term depends on the previous width (``codes[j]`` has more than one row),
    its scope is (previous layer, layer), so a node is split by the position its parent slot
    took (:func:`_flatten_slots`); elsewhere nodes stay as they are.
    """
    slots = [((j - 1, j), c) if c.shape[0] > 1 else ((j,), c[0]) for j, c in enumerate(codes)]
    return _flatten_slots(dag, slots)


def _flatten_slots(dag: Any, slots: list[tuple[tuple[int, ...], np.ndarray]]
                   ) -> tuple[np.ndarray, ...]:
    """(node_ptr, slot_pos, slot_child, slot_code, slot_before, level_node_start) of one
    DepthDag whose levels are dimensions (a chain's layers, or named dimensions); ``slots`` =
    (scope, term code over the scope's positions) of every Eq. 6 term. A term's code is added
    at its last dimension; a node is split by the positions of the earlier dimensions that a
    term closing later still reads (the context), which the DAG's own nodes need not fix (it
    shares equal subtrees whatever the values that led there)."""
    L = dag.depth
    close = [max(scope) if scope else -1 for scope, _ in slots]
    const = sum(int(table) for (_, table), c in zip(slots, close) if c < 0)
    front = [sorted({d for (scope, _), c in zip(slots, close) if c > k for d in scope
                     if d <= k}) for k in range(L)]
    orig, ctx = np.zeros(1, np.int64), np.zeros((1, L), np.int64)   # the root, no context
    ptrs, poss, childs, code_l, befores, n_nodes = [], [], [], [], [], []
    for j in range(L):
        cnt = dag.cnt[j][orig]
        first = dag._ptr[j][orig]
        owner = np.repeat(np.arange(len(orig)), cnt)
        idx = first[owner] + (np.arange(int(cnt.sum())) - np.repeat(np.cumsum(cnt) - cnt, cnt))
        pos = dag.pos[j][idx].astype(np.int64)
        full = ctx[owner]
        full[:, j] = pos
        code = np.full(len(idx), const if j == 0 else 0, np.int64)
        for (scope, table), c in zip(slots, close):
            if c == j:
                code += table[tuple(full[:, d] for d in scope)]
        code_l.append(code)
        node_of = np.repeat(np.arange(len(dag.cnt[j])), dag.cnt[j])
        if j < L - 1:
            before = np.concatenate([[0], dag._cum[j][:-1]]) - dag._base[j][node_of]
            child = dag.child[j][idx].astype(np.int64)
            at, inverse = _unique_rows(child, full[:, front[j]],
                                       [dag._width[d] for d in front[j]])
            childs.append(inverse.ravel().astype(np.int64))  # level-local, offset below
            orig_next = child[at]
            ctx_next = np.zeros((len(at), L), np.int64)
            ctx_next[:, front[j]] = full[at][:, front[j]]
        else:
            before = np.arange(len(dag.pos[j])) - dag._ptr[j][node_of]
            childs.append(np.full(len(idx), -1, np.int64))
        befores.append(before[idx].astype(np.int64))
        ptrs.append(cnt)
        poss.append(pos)
        n_nodes.append(len(orig))
        if j < L - 1:
            orig, ctx = orig_next, ctx_next
    start = np.concatenate([[0], np.cumsum(n_nodes)]).astype(np.int64)
    for j in range(L - 1):
        childs[j] = childs[j] + start[j + 1]
    node_ptr = np.concatenate([[0], np.cumsum(np.concatenate(ptrs))]).astype(np.int64)
    return (node_ptr, np.concatenate(poss), np.concatenate(childs), np.concatenate(code_l),
            np.concatenate(befores), start)


def _unique_rows(child: np.ndarray, context: np.ndarray, radix: list[int]
                 ) -> tuple[np.ndarray, np.ndarray]:
    """(first row, inverse) of the distinct (child, context) rows, ascending: one int64 key
    where the radices (positions per context column) fit, rows otherwise."""
    if (int(child.max(initial=0)) + 1) * math.prod(radix) < 2**62:
        key = child.copy()
        for k, r in enumerate(radix):
            key = key * r + context[:, k]
        _, at, inverse = np.unique(key, return_index=True, return_inverse=True)
    else:
        rows = np.concatenate([child[:, None], context], axis=1)
        _, at, inverse = np.unique(rows, axis=0, return_index=True, return_inverse=True)
    return at, inverse.ravel()


def _named_terms(space: Any, output: str) -> list[tuple[tuple[int, ...], np.ndarray]]:
    """(scope, log2(omega) over the scope) of every slot of a space of named dimensions;
    u_L must be the class count (the one case where it is a constant of the space)."""
    from .entropy import _named_tables

    if output != "network" or not space.num_classes:
        raise DistributionUnavailable(
            f"on a space of named dimensions, Eq. 6's u_L is a constant only for a classifier "
            f"with output='network' (here output={output!r}, "
            f"num_classes={space.num_classes}); its clusters come from a uniform pool")
    return list(_named_tables(space))


def _build_depth(dag: Any, flat: tuple[np.ndarray, ...], room: int,
                 cap: int) -> tuple[_Depth, int]:
    """One depth's flattened DAG and suffix histograms, bottom-up (the leaves' codes first,
    then one level at a time); (the depth, entries kept). Raises DistributionUnavailable as
    soon as more than ``room`` entries would be held (``cap``: the whole cap, for the
    message)."""
    from .distribution_dp import merge_level

    d = dag.depth
    node_ptr, slot_pos, slot_child, slot_code, slot_before, start = flat
    offs, vals, cnts = [None] * d, [None] * d, [None] * d
    # odd levels are not kept: a lookup there sums its node's slots one level down
    stored = (np.arange(d) % 2 == 0).astype(np.uint8)
    c_off, c_val, c_cnt = np.array([0, 1]), np.zeros(1, np.int64), np.ones(1, np.int64)
    kept = 0
    for j in range(d - 1, -1, -1):
        lo, hi = int(start[j]), int(start[j + 1])
        ptr = node_ptr[lo:hi + 1] - node_ptr[lo]
        slots = slice(int(node_ptr[lo]), int(node_ptr[lo]) + int(ptr[-1]))
        ch = slot_child[slots] - int(start[j + 1]) if j < d - 1 else \
            np.zeros(slots.stop - slots.start, np.int64)  # the leaves: one virtual child
        sizes = np.diff(c_off)[ch]
        per_node = np.add.reduceat(sizes, ptr[:-1]) if len(sizes) else sizes
        offs[j], vals[j], cnts[j] = _merge_chunked(
            merge_level, ptr, ch, slot_code[slots], c_off, c_val, c_cnt, per_node,
            room - kept - len(c_val),  # what is kept, and this level's input
            f"more than {cap:,} entries (depth {d}, level {j})")
        c_off, c_val, c_cnt = offs[j], vals[j], cnts[j]
        if j + 1 < d and not stored[j + 1]:  # read through its slots from now on
            offs[j + 1] = np.zeros(len(offs[j + 1]), np.int64)
            vals[j + 1] = cnts[j + 1] = np.zeros(0, np.int64)
        kept += len(vals[j]) if stored[j] else 0
    keys, counts = vals[0], cnts[0]
    assert int(counts.sum()) == dag.size, (d, int(counts.sum()), dag.size)
    offs[0], vals[0], cnts[0] = np.zeros(2, np.int64), np.zeros(0, np.int64), \
        np.zeros(0, np.int64)   # the root is read from keys/counts
    h_off = np.concatenate([[0]] + [o[1:] + sum(len(v) for v in vals[:j])
                                    for j, o in enumerate(offs)]).astype(np.int64)
    return _Depth(d, stored, node_ptr, slot_pos, slot_child, slot_code, slot_before, h_off,
                  np.concatenate(vals), np.concatenate(cnts), keys, counts), kept


class EntropyDistribution:
    """Exact (value, count) distribution of Eq. 6 over a :class:`~entronas.reduce.FeasibleTree`.

    Attributes:
        h: entropy of every key (depth by depth, ascending code inside a depth).
        weights: networks with that key.
        key_depth: depth of every key.
        quantum: the code unit, in bits of the per-layer sum.
    """

    def __init__(self, tree: Any, *, output: str = "network",
                 max_entries: int = MAX_ENTRIES) -> None:
        self.tree, self.output, self.max_entries = tree, output, max_entries
        named = not tree.space.chained
        if named:
            slots = _named_terms(tree.space, output)
            log_u = np.array([math.log2(tree.space.num_classes)])
            terms = {d: ([t for _, t in slots], log_u) for d in tree.dags}
            self.quantum, self._big = _quantum(terms, n_terms=len(slots))
        else:
            terms = {d: _terms(tree.space, d, output) for d in tree.dags}
            self.quantum, self._big = _quantum(terms)
        self._log_u = {d: np.unique(u) for d, (_, u) in terms.items()}
        self.depths: dict[int, _Depth] = {}
        self.entries = 0   # histogram entries kept over all depths
        for d, dag in tree.dags.items():
            t, log_u = terms[d]
            codes = [np.rint(np.asarray(x, np.float64) / self.quantum).astype(np.int64)
                     for x in t]
            if named:   # one u_L group: no group number
                flat = _flatten_slots(dag, [(scope, c) for (scope, _), c in zip(slots, codes)])
            else:
                groups = np.unique(log_u, return_inverse=True)[1].ravel()
                codes[-1] = codes[-1] + groups.astype(np.int64)[None, :] * self._big
                flat = _flatten(dag, codes)
            self.depths[d], kept = _build_depth(dag, flat, max_entries - self.entries,
                                                max_entries)
            self.entries += kept
        self.key_depth = np.concatenate([np.full(len(x.keys), d, np.int64)
                                         for d, x in self.depths.items()])
        self.weights = np.concatenate([x.counts for x in self.depths.values()])
        self.h = np.concatenate([self._entropy(d, x.keys) for d, x in self.depths.items()])
        self._first = dict(zip(self.depths, np.cumsum(
            [0] + [len(x.keys) for x in self.depths.values()])[:-1].tolist()))

    def __getstate__(self) -> dict[str, Any]:
        """Pickled as its definition (a spawned search worker rebuilds the histograms in a
        second or two instead of receiving hundreds of MB)."""
        return {"tree": self.tree, "output": self.output, "max_entries": self.max_entries}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__init__(state["tree"], output=state["output"],  # type: ignore[misc]
                      max_entries=state["max_entries"])

    def _entropy(self, depth: int, keys: np.ndarray) -> np.ndarray:
        group, code = np.divmod(keys, self._big)
        return self._log_u[depth][group] * (code.astype(np.float64) * self.quantum)

    @property
    def size(self) -> int:
        return int(self.weights.sum())

    @property
    def n_keys(self) -> int:
        """Distinct code sums (a few mathematically equal entropies have two codes: their
        terms round apart; :func:`~.clusters.merge_ties` makes them one value)."""
        return len(self.h)

    @property
    def n_values(self) -> int:
        """Distinct entropy values of X^f (ties merged, as the clusters see them)."""
        from .clusters import merge_ties

        return len(np.unique(merge_ties(self.h)))

    # ------------------------------------------------------------------ members
    def member(self, key: int, r: int) -> tuple[int, np.ndarray, int]:
        """(depth, grid positions, global index in the tree) of the ``r``-th member of key
        ``key`` (index into :attr:`h`)."""
        from .distribution_dp import walk_unrank

        d = int(self.key_depth[key])
        x = self.depths[d]
        out = np.empty(d, np.int64)
        local = walk_unrank(d, x.stored, x.node_ptr, x.slot_pos, x.slot_child, x.slot_code,
                            x.slot_before, x.h_off, x.h_val, x.h_cnt,
                            int(x.keys[key - self._first[d]]), int(r), out)
        return d, out, int(self.tree._offsets[self.tree.depths.index(d)]) + int(local)

    def locate(self, depth: int, pos: np.ndarray) -> tuple[int, int]:
        """(key, rank among that key's members) of the member with grid positions ``pos``."""
        from .distribution_dp import walk_rank

        x = self.depths[depth]
        code, r = walk_rank(depth, x.stored, x.node_ptr, x.slot_pos, x.slot_child, x.slot_code,
                            x.h_off, x.h_val, x.h_cnt, np.asarray(pos, np.int64))
        if r < 0:
            raise ValueError(f"{list(pos)} is not a member of depth {depth}")
        k = int(np.searchsorted(x.keys, code))
        return self._first[depth] + k, int(r)


def _quantum(terms: dict[int, tuple[list[np.ndarray], np.ndarray]],
             n_terms: int | None = None) -> tuple[float, int]:
    """(code unit, group multiplier): a power of two that keeps a whole network's rounding
    below 1/16 of the tie tolerance (``n_terms`` rounded terms in a sum: the deepest depth
    by default); raises when the codes would not fit in int64."""
    depth = n_terms or max(terms)
    max_u = max(float(np.abs(u).max()) for _, u in terms.values())
    max_sum = max(sum(float(np.abs(x).max()) for x in t) for t, _ in terms.values())
    tol = TIE_TOLERANCE * max(1.0, max_u * max_sum)
    q = 2.0 ** math.floor(math.log2(tol / (16 * depth * max(max_u, 1.0))))
    bits = math.ceil(math.log2(max_sum / q + 2))
    groups = max(len(np.unique(u)) for _, u in terms.values())
    if bits + math.ceil(math.log2(groups + 1)) > 61 or bits > 52:
        raise DistributionUnavailable("its entropy codes need more than 52 bits")
    return q, 2 ** bits


def _merge_chunked(kernel: Any, ptr: np.ndarray, child: np.ndarray, code: np.ndarray,
                   c_off: np.ndarray, c_val: np.ndarray, c_cnt: np.ndarray,
                   per_node: np.ndarray, room: int, what: str
                   ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The kernel over chunks of nodes whose upper bounds sum to at most CHUNK_ENTRIES; stops
    (DistributionUnavailable) as soon as the level's entries pass ``room``, so the histograms
    never hold more than the cap plus one chunk."""
    n = len(ptr) - 1
    bounds = np.cumsum(per_node)
    offs, vals, cnts, done, i = [np.zeros(1, np.int64)], [], [], 0, 0
    while i < n:
        base = bounds[i - 1] if i else 0
        j = max(i + 1, int(np.searchsorted(bounds, base + CHUNK_ENTRIES, side="right")))
        sub_ptr = ptr[i:j + 1] - ptr[i]
        ub = np.concatenate([[0], np.cumsum(per_node[i:j])]).astype(np.int64)
        s = slice(int(ptr[i]), int(ptr[j]))
        o, v, c = kernel(sub_ptr, child[s], code[s], c_off, c_val, c_cnt, ub)
        offs.append(o[1:] + done)
        vals.append(v)
        cnts.append(c)
        done += len(v)
        if done > room:
            raise DistributionUnavailable(f"its entropy histograms would hold {what}")
        i = j
    return (np.concatenate(offs), np.concatenate(vals) if vals else np.zeros(0, np.int64),
            np.concatenate(cnts) if cnts else np.zeros(0, np.int64))
