"""Compiled layers of the exact 1-D k-means dynamic programme (numba, no Python per row).

Why compiled: the DP evaluates about ten candidate splits per row and layer; a million
distinct values and k = 100 mean ~5e8 evaluations. Vectorised numpy over padded windows
took 16.9 s there (issue 12 asks <= 2 s); the same divide-and-conquer order compiled with
numba takes ~0.8 s per half on one core, and the two halves of the meet-in-the-middle run
in two threads (``nogil``). Compiled code is cached next to the module after the first call.

``prefix_layers`` is the only entry point; ``entronas.proxy.kmeans`` owns the method and its
documentation (prefix sums in extended precision, pruning by an upper bound, ties to the
smallest index).
"""

from __future__ import annotations

import numba
import numpy as np

__all__ = ["prefix_layers"]


@numba.njit(cache=True, nogil=True)
def _solve_rows(pen, s0, s1, r_lo, cnt, o_lo, m_max, lower, opt_row):  # pragma: no cover
    """Smallest optimal split of rows ``r_lo .. r_lo + cnt - 1`` of one layer.

    Divide and conquer level by level (coarse to fine): row ``i``'s candidates are the
    splits between the optima of its solved neighbours, at least ``lower[i]`` (the previous
    layer's optimum) and at most ``min(i, m_max)``. The cost of split ``m`` is
    ``pen[m] - (S1 - s1[m])^2 / (S0 - s0[m])`` (``pen[m] = D[j-1][m-1] - s2[m]``); strict
    ``<`` keeps the smallest index among equal costs.
    """
    slot = np.empty(cnt + 2, np.int64)  # slot t <-> row r_lo + t - 1; 0, cnt+1: sentinels
    slot[0] = o_lo
    slot[cnt + 1] = 1 << 62
    s = 1
    while (1 << s) <= cnt:
        s += 1
    while s >= 0:
        step = 1 << s
        n_rows = (cnt - step) // (2 * step) + 1 if cnt >= step else 0
        for q in range(n_rows):
            t = step * (2 * q + 1)
            i = r_lo + t - 1
            lo = max(slot[max(t - step, 0)], lower[i])
            hi = min(slot[min(t + step, cnt + 1)], i, m_max)
            if hi < lo:
                hi = lo
            big0 = s0[i + 1]
            big1 = s1[i + 1]
            best = np.inf
            arg = lo
            for m in range(lo, hi + 1):
                d1 = big1 - s1[m]
                c = pen[m] - d1 * d1 / (big0 - s0[m])
                if c < best:
                    best = c
                    arg = m
            slot[t] = arg
        s -= 1
    for t in range(cnt):
        opt_row[r_lo + t] = slot[t + 1]


@numba.njit(cache=True, nogil=True)
def prefix_layers(s0, s1, s2, k, n_layers, limit, growth, slack):  # pragma: no cover
    """Layers ``0 .. n_layers-1`` of the DP over the prefixes (see ``kmeans._prefix_layers``).

    ``s0, s1, s2``: prefix sums (length ``n + 1``) of ``w``, ``w x``, ``w x^2`` of the
    centred data. Returns the last layer's costs ``D[n_layers-1][i]`` (``+inf`` on rows
    left out by the pruning), and the smallest optimal splits of the solved rows only
    (ragged, so memory follows the pruned rows, not ``n_layers * n``): ``opt[j][i] =
    flat[off[j] + i - j]`` for ``j <= i < j + off[j + 1] - off[j]`` (int32; ``n < 2**31``).
    ``growth`` and ``slack`` shape the row-range guess of a layer (a speed hint only: a
    short guess is extended until the last row costs more than ``limit``).
    """
    n = s0.size - 1
    prev = np.empty(n)
    for i in range(n):
        d1 = s1[i + 1]
        prev[i] = max(s2[i + 1] - d1 * d1 / s0[i + 1], 0.0)
    flat = np.empty(max(4 * n, 1024), np.int32)
    off = np.zeros(n_layers + 1, np.int64)  # layer 0: opt[0][i] = 0, nothing stored
    opt_row = np.zeros(n, np.int64)
    pen = np.full(n + 1, np.inf)
    lower = np.zeros(n, np.int64)
    need = 0  # rows 0 .. need-1 of the previous layer cost <= limit (a prefix: D grows in i)
    while need < n and prev[need] <= limit:
        need += 1
    need_prev = need
    for j in range(1, n_layers):
        row_max = n - k + j  # later rows cannot be followed by the remaining clusters
        m_max = min(need, row_max)  # split m needs prev[m - 1] <= limit
        for m in range(j, m_max + 1):
            pen[m] = prev[m - 1] - s2[m]
        cur = np.full(n, np.inf)
        done = j
        cnt = max(need - j + growth * max(need - need_prev, 0) + slack, 1)
        o_lo = j
        while True:
            r_hi = min(row_max, done + cnt - 1)
            _solve_rows(pen, s0, s1, done, r_hi - done + 1, o_lo, m_max, lower, opt_row)
            for i in range(done, r_hi + 1):
                m = opt_row[i]
                d1 = s1[i + 1] - s1[m]
                sse = s2[i + 1] - s2[m] - d1 * d1 / (s0[i + 1] - s0[m])
                cur[i] = prev[m - 1] + max(sse, 0.0)
            o_lo = opt_row[r_hi]
            done = r_hi + 1
            if done > row_max or cur[r_hi] > limit:
                break
            cnt = (done - j) // 16 + slack  # the guess was short: extend
        for m in range(j, m_max + 1):
            pen[m] = np.inf
        if off[j] + done - j > flat.size:  # grow the ragged store
            grown = np.empty(2 * (off[j] + done - j), np.int32)
            grown[: off[j]] = flat[: off[j]]
            flat = grown
        for i in range(j, done):
            flat[off[j] + i - j] = opt_row[i]
            lower[i] = opt_row[i]
        off[j + 1] = off[j] + done - j
        for i in range(done, n):  # unsolved rows: opt[j][i] >= opt[j][last solved row]
            lower[i] = opt_row[done - 1]
        need_prev = need
        need = j
        while need < done and cur[need] <= limit:
            need += 1
        prev = cur
    if n_layers == 1:
        off[1] = 0
    return prev, flat[: off[n_layers]].copy(), off
