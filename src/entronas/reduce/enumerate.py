"""Exact enumeration of X^f_L, output-sensitive, vectorised level by level.

Every prefix kept at level k is the prefix of at least one network that passes the cheapest-
completion bound, so the work is proportional to |X^f_L| * L, never to the box. The result is
built directly as a DAG (identical subtrees shared).

Under the ``tflm`` convention the bound uses the live-tensor peak (a monotone lower bound of
TFLM's planned arena); every network that passes it is then accepted when the monotone window
bound already fits, and otherwise checked with the exact replay of TFLM's planner
(:func:`entronas.cost.planner.greedy_plan_batch`). So the result is exactly the set of networks
whose replayed arena fits.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..cost.options import CostOptions
from ..cost.planner import greedy_plan_batch
from ..targets.base import Target
from .tables import INF, Completion, DepthTables, layer_is_even, ram_of
from .tree import DepthDag


@dataclass
class _Prefixes:
    last: np.ndarray      # grid index of the last width
    parent: np.ndarray    # index into the previous level's prefixes
    rom: np.ndarray
    flops: np.ndarray
    even: np.ndarray
    odd: np.ndarray
    pair: np.ndarray
    pers: np.ndarray
    win: np.ndarray       # tflm: the largest planner window so far


_STATE = ("rom", "flops", "even", "odd", "pair", "pers", "win")


def _budget(v: int | None) -> np.int64:
    return INF if v is None else np.int64(v)


def _fits(p: dict, comp: Completion, k: int, last: np.ndarray, target: Target,
          t: DepthTables) -> np.ndarray:
    """Whether the prefix (arrays in ``p``) plus its cheapest completion fits the target."""
    ok = comp.ok[k][last]
    ok &= p["rom"] + comp.rom[k][last] <= _budget(target.rom)
    ok &= p["flops"] + comp.flops[k][last] <= _budget(target.flops)
    ram = ram_of(t, np.maximum(p["even"], comp.even[k][last]),
                 np.maximum(p["odd"], comp.odd[k][last]),
                 np.maximum(p["pair"], comp.pair[k][last]), p["pers"] + comp.pers[k][last])
    ok &= ram <= _budget(target.ram)
    return ok


def first_layer(t: DepthTables) -> dict[str, np.ndarray]:
    """The state (``_STATE``: costs so far, buffer maxima, peaks) of every one-layer prefix."""
    n = t.sizes[0]
    return dict(rom=t.rom[0][0], flops=t.flops[0][0],
                even=np.full(n, t.in_bytes, np.int64), odd=t.out[0].copy(),
                pair=t.peak[0][0].copy(), pers=t.pers[0][0].copy(),
                win=t.window[0][0].copy() if t.ram_shape == "tflm" else np.zeros(n, np.int64))


def extend(t: DepthTables, k: int, last: np.ndarray, state: dict[str, np.ndarray]
           ) -> dict[str, np.ndarray]:
    """The (P, W_k) state of P prefixes (last widths ``last``) each extended by every width of
    layer k: additive costs add, Eq. 4's buffer of k's parity and the peaks take the max."""
    q = dict(rom=state["rom"][:, None] + t.rom[k][last],
             flops=state["flops"][:, None] + t.flops[k][last])
    buf = t.out[k][None, :]
    if layer_is_even(k):
        q["even"], q["odd"] = np.maximum(state["even"][:, None], buf), state["odd"][:, None]
    else:
        q["even"], q["odd"] = state["even"][:, None], np.maximum(state["odd"][:, None], buf)
    q["pair"] = np.maximum(state["pair"][:, None], t.peak[k][last])
    q["pers"] = state["pers"][:, None] + t.pers[k][last]
    q["win"] = np.maximum(state["win"][:, None], t.window[k][last]) \
        if t.ram_shape == "tflm" else state["win"][:, None]
    return q


#: the most (prefix, next width) cells one level may hold: ~1 GB of working arrays
MAX_CELLS = 20_000_000
#: networks replayed per batch (bounds the replay's working memory)
REPLAY_CHUNK = 200_000


def enumerate_depth(t: DepthTables, comp: Completion, target: Target,
                    options: CostOptions, max_cells: int = MAX_CELLS) -> DepthDag | None:
    """The feasible set of one depth as a :class:`DepthDag` (None if empty).

    Raises MemoryError before allocating a level of more than ``max_cells`` cells.
    """
    L = t.depth
    w0 = np.arange(t.sizes[0])
    p = first_layer(t)
    keep = _fits(p, comp, 0, w0, target, t)
    if L == 1:
        if t.ram_shape == "tflm":
            keep = _exact(t, [], keep[None, :], p, target)[0]
        return DepthDag.from_leaf_masks([keep[None, :]], [], L) if keep.any() else None
    if not keep.any():
        return None
    levels = [_Prefixes(w0[keep], np.zeros(keep.sum(), np.int64),
                        *(p[n][keep] for n in _STATE))]
    for k in range(1, L):
        cur = levels[-1]
        if len(cur.last) * t.sizes[k] > max_cells:
            raise MemoryError(f"{len(cur.last):,} feasible prefixes at layer {k} "
                              f"(x {t.sizes[k]} widths)")
        allowed = t.allowed[k][cur.last]                         # (P, W_k)
        q = extend(t, k, cur.last, {n: getattr(cur, n) for n in _STATE})
        cols = np.broadcast_to(np.arange(t.sizes[k])[None, :], allowed.shape)
        mask = allowed & _fits(q, comp, k, cols, target, t)
        if k == L - 1:
            if t.ram_shape == "tflm":
                mask = _exact(t, levels, mask, q, target)
            return DepthDag.from_prefix_levels(levels, mask, L)
        parent, last = np.nonzero(mask)
        q = {n: np.broadcast_to(v, mask.shape)[parent, last] for n, v in q.items()}
        levels.append(_Prefixes(last, parent, *(q[n] for n in _STATE)))
    raise AssertionError("unreachable")  # pragma: no cover


def _exact(t: DepthTables, levels: list[_Prefixes], mask: np.ndarray, q: dict,
           target: Target) -> np.ndarray:
    """Keep the members of ``mask`` whose replayed TFLM plan + persistent part fits.

    Members whose window bound fits need no replay; the others are replayed in one batch.
    """
    if target.ram is None or not mask.any():
        return mask
    L = t.depth
    parent, last = np.nonzero(mask)
    bcast = {n: np.broadcast_to(v, mask.shape)[parent, last] for n, v in q.items()}
    pers = bcast["pers"] + t.tail_pers[last]
    upper = np.maximum(np.maximum(bcast["win"], t.tail_window[last]), t.floor) + pers
    doubt = np.nonzero(upper > target.ram)[0]
    if not len(doubt):
        return mask
    pos = np.empty((len(doubt), L), np.int64)
    pos[:, L - 1] = last[doubt]
    node = parent[doubt]
    for j in range(L - 2, -1, -1):
        pos[:, j] = levels[j].last[node]
        node = levels[j].parent[node]
    cols = [np.full(len(doubt), -(-t.in_bytes // 16) * 16, np.int64)]
    for i in range(L):
        prev = pos[:, i - 1] if i else np.zeros(len(doubt), np.int64)
        cols.append(t.tensors[i][prev, pos[:, i]])
    cols.append(t.tail_tensors[pos[:, L - 1]])
    sizes = np.concatenate([c.reshape(len(doubt), -1) for c in cols], axis=1)
    plan = np.concatenate([greedy_plan_batch(sizes[i:i + REPLAY_CHUNK], t.lifetimes)
                           for i in range(0, len(sizes), REPLAY_CHUNK)])
    plan = np.maximum(plan, t.floor)
    bad = doubt[plan + pers[doubt] > target.ram]
    out = mask.copy()
    out[parent[bad], last[bad]] = False
    return out
