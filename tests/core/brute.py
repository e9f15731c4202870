"""Independent brute-force reference: enumerate the box, apply rules, cost every network."""

from __future__ import annotations

import itertools

from entronas.cost import CostOptions, estimate


def brute_feasible(space, target, options=None):
    options = options or CostOptions()
    out = []
    for depth in space.depths:
        grids = [space.grid(depth, i) for i in range(depth)]
        for widths in itertools.product(*grids):
            ok = True
            for i in range(1, depth):
                rel = space.relation(depth, i)
                a, b = widths[i - 1], widths[i]
                if rel == "le" and b > a or rel == "ge" and b < a or rel == "eq" and b != a:
                    ok = False
                    break
            if not ok:
                continue
            c = estimate(space, widths, options)
            if target.fits(c.rom, c.ram, c.flops):
                out.append(tuple(widths))
    return out
