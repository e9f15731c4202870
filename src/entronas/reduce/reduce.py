"""X -> X^f (Sec. III-B): lower-bound check, reduced upper bounds (Eq. 2), exact feasible set."""

from __future__ import annotations

import hashlib
import json
import time
from dataclasses import dataclass, field
from typing import Any, Callable

import numpy as np

from .._core.errors import InfeasibleSpaceError
from ..cost.options import CostOptions
from ..space.base import ChainSpace
from ..targets.base import Target, fmt_bytes
from .enumerate import enumerate_depth
from .count import CountedSpace, DepthCounter, NotCountableError, choose_axis, forward_counts
from .tables import Completion, DepthTables, build_tables, completion, prefix
from .tree import FeasibleTree


@dataclass
class DepthReport:
    """What the reduction found for one depth L."""

    depth: int
    size: int                       # |X_L|
    feasible: int                   # |X^f_L|
    cheapest: dict[str, int]        # costs of the cheapest network of this depth
    lower_bound_ok: bool            # the all-minimum network fits
    m_red: tuple[int, ...] | None   # reduced upper bounds M_i^red (Eq. 2); None if infeasible
    seconds: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        return {"depth": self.depth, "size": self.size, "feasible": self.feasible,
                "cheapest": self.cheapest, "lower_bound_ok": self.lower_bound_ok,
                "m_red": None if self.m_red is None else list(self.m_red),
                "seconds": self.seconds}


@dataclass
class ReductionReport:
    space: str
    target: dict[str, Any]
    depths: list[DepthReport] = field(default_factory=list)
    seconds: float = 0.0
    method: str = "enumerate"

    @property
    def size(self) -> int:
        return sum(d.size for d in self.depths)

    @property
    def feasible(self) -> int:
        return sum(d.feasible for d in self.depths)

    def to_dict(self) -> dict[str, Any]:
        return {"space": self.space, "target": self.target, "size": self.size,
                "feasible": self.feasible, "seconds": self.seconds, "method": self.method,
                "depths": [d.to_dict() for d in self.depths]}


def fingerprint(space: ChainSpace, target: Target, options: CostOptions) -> str:
    """Identifies a reduction result: same space + budgets + conventions -> same X^f."""
    from .. import __version__

    blob = json.dumps({"space": space.to_dict(), "rom": target.rom, "ram": target.ram,
                       "flops": target.flops, "options": options.to_dict(),
                       "version": __version__.split(".")[0]}, sort_keys=True)
    return hashlib.sha256(blob.encode()).hexdigest()[:16]


def cheapest_costs(t: DepthTables, c: Completion, options: CostOptions) -> dict[str, int] | None:
    """Costs of the all-minimum (greedy) network of this depth, None if rules allow none."""
    first = int(np.argmax(c.ok[0])) if c.ok[0].any() else None
    if first is None:
        return None
    rom = int(t.rom[0][0, first] + c.rom[0][first])
    flops = int(t.flops[0][0, first] + c.flops[0][first])
    if options.ram_model in ("chain", "ops"):
        ram = int(max(t.peak[0][0, first], c.pair[0][first]))
    else:
        ram = int(max(t.in_bytes, c.even[0][first]) + max(t.out[0][first], c.odd[0][first]))
    return {"rom": rom, "ram": ram, "flops": flops}


def lower_bound_ok(cheap: dict[str, int] | None, target: Target) -> bool:
    return cheap is not None and target.fits(cheap["rom"], cheap["ram"], cheap["flops"])


#: feasible sets larger than this are counted (DP) instead of listed
ENUMERATE_LIMIT = 20_000_000


def reduce_space(
    space: ChainSpace,
    target: Target,
    options: CostOptions | None = None,
    *,
    method: str = "auto",
    enumerate_limit: int = ENUMERATE_LIMIT,
    progress: Callable[[str], None] | None = None,
) -> tuple[Any, ReductionReport]:
    """Reduce ``space`` to the networks that fit ``target``.

    Per depth: the all-minimum network is checked first (if it does not fit, no network of that
    depth does); M^red (Eq. 2) comes from the cheapest valid prefix + completion through each
    (layer, width); then the feasible set is either enumerated exactly into a
    :class:`FeasibleTree` (output-sensitive: work ~ |X^f| L) or, when larger than
    ``enumerate_limit`` (or ``method="count"``), represented by an exact counting DP
    (:class:`CountedSpace`).

    Raises:
        InfeasibleSpaceError: no depth has a feasible network; the message names the cheapest
            network's ROM/RAM/FLOPs against the budgets.
    """
    from .._core.validation import check_choice

    check_choice(method, "method", "reduce_space", ("auto", "enumerate", "count"))
    options = options or CostOptions()
    start = time.perf_counter()
    report = ReductionReport(space.name, target.to_dict())
    user_target, target = target, _net_budgets(target, options)
    prepared = []
    for depth in space.depths:
        t0 = time.perf_counter()
        tables = build_tables(space, depth, options)
        comp = completion(tables)
        cheap = cheapest_costs(tables, comp, options)
        ok = lower_bound_ok(cheap, target)
        m_red = reduced_bounds(tables, comp, target, options) if ok else None
        if cheap:  # report what the user's budget sees, fixed overheads included
            cheap = {"rom": cheap["rom"] + options.rom_overhead,
                     "ram": cheap["ram"] + options.ram_overhead, "flops": cheap["flops"]}
        report.depths.append(DepthReport(depth, space.size(depth), 0, cheap or {}, ok, m_red,
                                         time.perf_counter() - t0))
        prepared.append((tables, comp, ok))
    if not any(ok for _, _, ok in prepared):
        report.seconds = time.perf_counter() - start
        raise InfeasibleSpaceError(explain_empty(space, user_target, report))
    # box of the reduced bounds: enumerate directly when it is small anyway
    box = sum(_box_size(space, d.depth, d.m_red) for d in report.depths if d.m_red)
    use_count = method == "count" or (method == "auto" and box > enumerate_limit)
    counters: dict[int, DepthCounter] = {}
    not_countable = ""
    if use_count:
        feasible_tables = {d.depth: tables for (tables, _, ok), d in zip(prepared, report.depths)
                           if ok}
        try:
            axis = choose_axis(list(feasible_tables.values()), target)
            parts = forward_counts(feasible_tables, target, options, axis)
            counters = {d: DepthCounter(t, target, options, axis, parts[d])
                        for d, t in feasible_tables.items()}
        except NotCountableError as exc:
            if method == "count":
                raise
            counters, not_countable = {}, str(exc)
        total = sum(c.count for c in counters.values())
        use_count = bool(counters) and (method == "count" or total > enumerate_limit)
    meta = {"target": user_target.to_dict(), "options": options.to_dict(),
            "fingerprint": fingerprint(space, user_target, options)}
    if use_count:
        report.method = "count"
        for d in report.depths:
            d.feasible = counters[d.depth].count if d.depth in counters else 0
        report.seconds = time.perf_counter() - start
        meta["report"] = report.to_dict()
        return CountedSpace(space, counters, meta), report
    dags = {}
    for (tables, comp, ok), d in zip(prepared, report.depths):
        t0 = time.perf_counter()
        try:
            dag = enumerate_depth(tables, comp, target, options) if ok else None
        except MemoryError as exc:
            raise NotCountableError(
                f"X^f of {space.name!r} is too large to list ({exc}) and "
                + (not_countable or "cannot be counted exactly")) from None
        if dag is not None:
            dags[d.depth] = dag
            d.feasible = dag.size
        d.seconds += time.perf_counter() - t0
        if progress:
            progress(f"depth {d.depth}: {d.feasible:,} feasible of {d.size:,}")
    report.seconds = time.perf_counter() - start
    meta["report"] = report.to_dict()
    return FeasibleTree(space, dags, meta), report


def _net_budgets(target: Target, options: CostOptions) -> Target:
    """Fixed ROM/RAM overheads (runtime, container) come off the budget once."""
    if not (options.rom_overhead or options.ram_overhead):
        return target
    from dataclasses import replace

    def net(budget: int | None, overhead: int) -> int | None:
        return None if budget is None else max(budget - overhead, 0)

    rom, ram = net(target.rom, options.rom_overhead), net(target.ram, options.ram_overhead)
    for what, left, overhead in (("ROM", rom, options.rom_overhead),
                                 ("RAM", ram, options.ram_overhead)):
        if left == 0:
            raise InfeasibleSpaceError(f"the fixed {what} overhead of {overhead:,} B alone uses "
                                       f"the whole {what} budget of {target.describe()}")
    return replace(target, rom=rom, ram=ram)


def _box_size(space: ChainSpace, depth: int, m_red: tuple[int, ...]) -> int:
    """Size of the reduced box (widths capped at M^red), an upper bound on |X^f_L|."""
    n = 1
    for i, cap in enumerate(m_red):
        n *= sum(1 for w in space.grid(depth, i) if w <= cap)
    return n


def reduced_bounds(t: DepthTables, comp: Completion, target: Target,
                   options: CostOptions) -> tuple[int, ...] | None:
    """M_i^red (Eq. 2): the largest width of layer i such that some network of X^f_L has it.

    For every (layer i, width b) the cheapest network through it is the cheapest valid prefix
    ending in b plus the cheapest completion after b (costs are monotone in every width).
    """
    pre = prefix(t)
    out = []
    for i in range(t.depth):
        ok = pre.ok[i] & comp.ok[i]
        rom = pre.rom[i] + comp.rom[i]
        flops = pre.flops[i] + comp.flops[i]
        if options.ram_model in ("chain", "ops"):
            ram = np.maximum(pre.pair[i], comp.pair[i])
        else:
            ram = np.maximum(pre.even[i], comp.even[i]) + np.maximum(pre.odd[i], comp.odd[i])
        for v, budget in ((rom, target.rom), (flops, target.flops), (ram, target.ram)):
            if budget is not None:
                ok &= v <= budget
        if not ok.any():
            return None
        out.append(int(t.widths[i][np.nonzero(ok)[0].max()]))
    return tuple(out)


def _m_red(dag: Any, tables: DepthTables) -> tuple[int, ...]:
    """M_i^red = the largest width of layer i over X^f_L (Eq. 2)."""
    return tuple(int(tables.widths[j][(dag.lo[j] + dag.cnt[j] - 1).max()])
                 for j in range(dag.depth))


def explain_empty(space: ChainSpace, target: Target, report: ReductionReport) -> str:
    """One line: why nothing fits, with the cheapest network's costs against the budget."""
    best = min((d for d in report.depths if d.cheapest), key=lambda d: d.cheapest["rom"],
               default=None)
    if best is None:
        return f"space {space.name!r} has no valid architecture under its structural rules"
    c = best.cheapest
    over = []
    for what, used in (("ROM", c["rom"]), ("RAM", c["ram"]), ("FLOPs", c["flops"])):
        budget = getattr(target, what.lower())
        if budget is not None and used > budget:
            over.append(f"{what} {fmt_bytes(used) if what != 'FLOPs' else f'{used:,}'} > "
                        f"{fmt_bytes(budget) if what != 'FLOPs' else f'{budget:,}'}")
    return (f"no architecture of space {space.name!r} (depth {space.depth_min}..{space.depth_max})"
            f" fits target {target.describe()}: the smallest one (depth {best.depth}, all widths "
            f"minimal) needs {', '.join(over)}; raise the budget, lower the minimum widths or "
            "depth, or shrink the input")


__all__ = ["CountedSpace", "DepthReport", "ReductionReport", "fingerprint", "reduce_space",
           "reduced_bounds"]
