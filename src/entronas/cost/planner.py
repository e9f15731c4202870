"""TensorFlow Lite Micro's greedy memory planner, replayed, and its two bounds.

Why a replay: the arena TFLM plans for the activations is what must fit the MCU's RAM, and its
greedy placement can fragment the arena well beyond the live-tensor peak (``dscnn-kws``
84-84-84-252-224-280 in float32: peak 252,000 B, planned 364,000 B). The planner sorts tensors
by size, largest first, equal sizes in *reverse* tensor order, and puts each at the lowest
offset where it overlaps no tensor alive at the same time (``GreedyMemoryPlanner``); replaying
exactly that order matched TFLM on every model measured (``benchmarks/bench_fit.py``).

The plan is not monotone in the tensor sizes, so the reduction cannot prune with it. It is
bracketed by two monotone bounds:

* :func:`live_peak` (lower): the most bytes alive at one step;
* :func:`neighbourhood_bound` (upper): the largest sum of a tensor and every tensor alive at the
  same time as it. For a chain (each tensor overlaps only its neighbours, as in MLP, DS-CNN and
  MobileNet graphs) this is a proven upper bound of the greedy plan: a tensor placed above
  offset 0 sits directly on a tensor at least its size, which itself sits at 0 or directly on a
  tensor at 0, so every top is at most three consecutive tensors. For graphs with residual
  additions (ConvMixer) the bound is checked by property tests against the replay
  (``tests/cost/test_planner.py``).
"""

from __future__ import annotations

from typing import Sequence

import numpy as np

Tensor = tuple[int, int, int]   # (bytes, first step, last step)


def greedy_plan(tensors: Sequence[Tensor]) -> int:
    """Arena bytes TFLM's greedy planner needs for ``tensors`` (in tensor order)."""
    order = sorted(range(len(tensors)), key=lambda i: (-tensors[i][0], -i))
    placed: list[tuple[int, int]] = []  # (offset, index), kept sorted by offset
    top = 0
    for i in order:
        size, first, last = tensors[i]
        offset = 0
        for off, j in placed:
            _, f2, l2 = tensors[j]
            if l2 < first or f2 > last:  # not alive at the same time
                continue
            if off - offset >= size:
                break
            offset = max(offset, off + tensors[j][0])
        placed.append((offset, i))
        placed.sort()
        top = max(top, offset + size)
    return top


def conflicts(lifetimes: Sequence[tuple[int, int]]) -> list[list[int]]:
    """For every tensor, the other tensors alive at some common step."""
    return [[j for j, (a2, b2) in enumerate(lifetimes) if j != i and not (b2 < a or a2 > b)]
            for i, (a, b) in enumerate(lifetimes)]


def greedy_plan_batch(sizes: np.ndarray, lifetimes: Sequence[tuple[int, int]]) -> np.ndarray:
    """:func:`greedy_plan` of many networks that share one tensor structure (rows of ``sizes``).

    Why: the reduction filters every enumerated member of X^f whose bounds disagree through the
    exact replay, often 10^5 networks of one depth; looping in Python would take minutes. Per
    placement rank, networks are grouped by the tensor they place; a tensor's candidate offsets
    are 0 and the tops of its (few) conflicting tensors, and the lowest one overlapping none of
    them is TFLM's choice (the planner's scan over placed tensors in offset order finds exactly
    that position).
    """
    sizes = np.asarray(sizes, dtype=np.int64)
    n, t = sizes.shape
    conf = conflicts(lifetimes)
    idx = np.arange(t, dtype=np.int64)
    order = np.argsort(-(sizes * t + idx[None, :]), axis=1)   # size desc, then index desc
    rank = np.empty_like(order)
    rank[np.arange(n)[:, None], order] = idx[None, :]
    off = np.zeros((n, t), dtype=np.int64, order="F")
    rank_f, sizes_f = np.asfortranarray(rank), np.asfortranarray(sizes)
    top = np.zeros(n, dtype=np.int64)
    for r in range(t):
        placing = order[:, r]
        for i in np.unique(placing):
            rows = np.nonzero(placing == i)[0]
            c = conf[i]
            s_i = sizes[rows, i]
            if not c:
                off[rows, i] = 0
                top[rows] = np.maximum(top[rows], s_i)
                continue
            # only the conflicting columns, gathered column by column from column-major
            # arrays, and kept column-major (g, k): the broadcasts below ran ~9x slower on
            # row-major (g, k) arrays (measured), and copying whole rows cost 60 % of the time
            placed = np.stack([rank_f[rows, j] for j in c]).T < r
            o = np.stack([off[rows, j] for j in c]).T
            e = o + np.stack([sizes_f[rows, j] for j in c]).T
            cand = np.concatenate([np.zeros((len(rows), 1), np.int64),
                                   np.where(placed, e, 0)], axis=1)  # (g, k + 1)
            free = ~(placed[:, None, :] & (cand[:, :, None] < e[:, None, :])
                     & (cand[:, :, None] + s_i[:, None, None] > o[:, None, :])).any(axis=2)
            best = np.where(free, cand, np.iinfo(np.int64).max).min(axis=1)
            off[rows, i] = best
            top[rows] = np.maximum(top[rows], best + s_i)
    return top


def live_peak(tensors: Sequence[Tensor]) -> int:
    """The most bytes alive at any one step (a lower bound of every plan)."""
    steps = max((t[2] for t in tensors), default=-1) + 1
    return max((sum(s for s, a, b in tensors if a <= k <= b) for k in range(steps)), default=0)


def neighbourhood_bound(tensors: Sequence[Tensor]) -> int:
    """max over tensors of (its bytes + the bytes of every tensor alive with it)."""
    best = 0
    for s, a, b in tensors:
        best = max(best, sum(s2 for s2, a2, b2 in tensors if not (b2 < a or a2 > b)))
    return best


__all__ = ["conflicts", "greedy_plan", "greedy_plan_batch", "live_peak", "neighbourhood_bound"]
