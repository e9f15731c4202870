"""Exact enumeration of X^f_L, output-sensitive, vectorised level by level.

Every prefix kept at level k is the prefix of at least one feasible network (it passed the
cheapest-completion bound), so the work is proportional to |X^f_L| * L, never to the box.
The result is built directly as a range-compressed DAG (identical subtrees shared).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..cost.options import CostOptions
from ..targets.base import Target
from .tables import INF, Completion, DepthTables, layer_is_even
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


def _budget(v: int | None) -> np.int64:
    return INF if v is None else np.int64(v)


def _fits(p: dict, comp: Completion, k: int, last: np.ndarray, target: Target,
          options: CostOptions) -> np.ndarray:
    """Whether the prefix (arrays in ``p``) plus its cheapest completion fits the target."""
    ok = comp.ok[k][last]
    ok &= p["rom"] + comp.rom[k][last] <= _budget(target.rom)
    ok &= p["flops"] + comp.flops[k][last] <= _budget(target.flops)
    if options.ram_model in ("chain", "ops"):
        ram = np.maximum(p["pair"], comp.pair[k][last])
    else:
        ram = np.maximum(p["even"], comp.even[k][last]) + np.maximum(p["odd"], comp.odd[k][last])
    ok &= ram <= _budget(target.ram)
    return ok


def enumerate_depth(t: DepthTables, comp: Completion, target: Target,
                    options: CostOptions, max_prefixes: int = 50_000_000) -> DepthDag | None:
    """The feasible set of one depth as a :class:`DepthDag` (None if empty)."""
    L = t.depth
    w0 = np.arange(t.sizes[0])
    p = dict(rom=t.rom[0][0], flops=t.flops[0][0],
             even=np.full(len(w0), t.in_bytes, np.int64), odd=t.out[0].copy(),
             pair=t.peak[0][0].copy())
    if L == 1:
        mask = _fits(p, comp, 0, w0, target, options)
        return DepthDag.from_leaf_masks([mask[None, :]], [], L) if mask.any() else None
    keep = _fits(p, comp, 0, w0, target, options)
    levels = [_Prefixes(w0[keep], np.zeros(keep.sum(), np.int64),
                        *(p[n][keep] for n in ("rom", "flops", "even", "odd", "pair")))]
    if not keep.any():
        return None
    for k in range(1, L):
        cur = levels[-1]
        allowed = t.allowed[k][cur.last]                         # (P, W_k)
        q = dict(rom=cur.rom[:, None] + t.rom[k][cur.last],
                 flops=cur.flops[:, None] + t.flops[k][cur.last])
        buf = t.out[k][None, :]
        if layer_is_even(k):
            q["even"], q["odd"] = np.maximum(cur.even[:, None], buf), cur.odd[:, None]
        else:
            q["even"], q["odd"] = cur.even[:, None], np.maximum(cur.odd[:, None], buf)
        q["pair"] = np.maximum(cur.pair[:, None], t.peak[k][cur.last])
        cols = np.broadcast_to(np.arange(t.sizes[k])[None, :], allowed.shape)
        mask = allowed & _fits(q, comp, k, cols, target, options)
        if k == L - 1:
            return DepthDag.from_prefix_levels(levels, mask, L)
        parent, last = np.nonzero(mask)
        if len(parent) > max_prefixes:
            raise MemoryError(f"more than {max_prefixes:,} feasible prefixes at layer {k + 1}")
        q = {n: np.broadcast_to(v, mask.shape)[parent, last] for n, v in q.items()}
        levels.append(_Prefixes(last, parent, q["rom"], q["flops"], q["even"], q["odd"],
                                q["pair"]))
    raise AssertionError("unreachable")  # pragma: no cover
