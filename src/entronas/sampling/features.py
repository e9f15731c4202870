"""Per-candidate features for model-based strategies and cost-ordered baselines.

Why here: the strategies of ``sampling/`` need, for every candidate of X^f at once, its depth,
per-layer widths, entropy, MACs and parameter count; computing them from the reduction's cost
tables (vectorised per depth) takes milliseconds where a per-network estimate would take
seconds for 10^5 candidates.
"""

from __future__ import annotations

from typing import Any

import numpy as np


def candidate_widths(candidates: Any) -> list[tuple[int, ...]]:
    """Width tuples of every candidate, in candidate order."""
    f = candidates.feasible
    if candidates.indices is None:
        out: list[tuple[int, ...]] = []
        for d in f.depths:
            out.extend(tuple(int(v) for v in row) for row in f.depth_array(d))
        return out
    return [tuple(int(v) for v in w) for w in f.widths_of(candidates.indices)]


def member_costs(space: Any, widths: list[tuple[int, ...]]) -> dict[str, np.ndarray]:
    """MACs and parameter counts (weights + biases) of many members, vectorised per depth."""
    from ..cost.options import CostOptions
    from ..reduce.tables import build_tables

    n = len(widths)
    macs = np.zeros(n, np.int64)
    params = np.zeros(n, np.int64)
    count = CostOptions(weight_bytes=1, activation_bytes=1, input_bytes=1, bias=True,
                        flops_per_mac=1)  # "ROM" = parameters, "FLOPs" = MACs
    if not space.chained:   # named dimensions: the reduction's factor tables
        from ..reduce.dimensions import factor_sums

        rom, flops = factor_sums(space, np.array(widths, np.int64).reshape(n, -1), count)
        return {"macs": flops, "params": rom}
    by_depth: dict[int, list[int]] = {}
    for k, w in enumerate(widths):
        by_depth.setdefault(len(w), []).append(k)
    for depth, ks in by_depth.items():
        t = build_tables(space, depth, count)
        rows = np.array([widths[k] for k in ks], np.int64)
        pos = [np.searchsorted(t.widths[i], rows[:, i]) for i in range(depth)]
        m = t.flops[0][0, pos[0]] + t.tail_flops[pos[-1]]
        p = t.rom[0][0, pos[0]] + t.tail_rom[pos[-1]]
        for i in range(1, depth):
            m = m + t.flops[i][pos[i - 1], pos[i]]
            p = p + t.rom[i][pos[i - 1], pos[i]]
        macs[ks], params[ks] = m, p
    return {"macs": macs, "params": params}


#: columns of :func:`feature_matrix` that summarise a network whatever its depth: depth,
#: entropy, log2 MACs, log2 parameters (the linear surrogate's inputs)
SUMMARY_COLUMNS = [0, -3, -2, -1]
#: columns of every layer's log2 width (0 beyond the depth)
WIDTH_COLUMNS = slice(1, -3)
#: columns of the discrete choices: depth and every layer's log2 width (TPE-style densities)
CHOICE_COLUMNS = slice(0, -3)


def feature_matrix(candidates: Any) -> np.ndarray:
    """(N, F): depth, log2 of every layer's width (0 beyond the depth), entropy, log2 MACs,
    log2 parameters."""
    widths = candidate_widths(candidates)
    costs = member_costs(candidates.space, widths)
    depth_max = max(len(w) for w in widths)
    logw = np.zeros((len(widths), depth_max))
    for k, w in enumerate(widths):
        logw[k, :len(w)] = np.log2(w)
    depth = np.array([len(w) for w in widths], float)
    return np.column_stack([depth, logw, candidates.entropy, np.log2(costs["macs"] + 1),
                            np.log2(costs["params"] + 1)])
