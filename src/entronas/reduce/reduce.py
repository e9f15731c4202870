"""X -> X^f (Sec. III-B): lower-bound check, reduced upper bounds (Eq. 2), exact feasible set."""

from __future__ import annotations

import hashlib
import json
import time
from dataclasses import dataclass, field
from typing import Any, Callable

import numpy as np

from .._core.errors import InfeasibleSpaceError, InvalidSpaceError
from ..cost.model import estimate
from ..cost.options import CostOptions
from ..cost.ram import fixed_ram
from ..cost.rom import fixed_rom
from ..space.base import ChainSpace
from ..targets.base import Target, fmt_bytes
from .count import (Axis, CountedSpace, DepthCounter, NotCountableError, choose_axis,
                    forward_counts)
from .dag import NO_DAG_REASON, build_dag, counted_as_tree, dag_applies
from .enumerate import enumerate_depth
from .tables import (Completion, DepthTables, build_tables, completion, prefix,
                     probe_layers, ram_of)
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

    def to_dict(self, timings: bool = True) -> dict[str, Any]:
        return {"depth": self.depth, "size": self.size, "feasible": self.feasible,
                "cheapest": self.cheapest, "lower_bound_ok": self.lower_bound_ok,
                "m_red": None if self.m_red is None else list(self.m_red),
                **({"seconds": self.seconds} if timings else {})}


@dataclass
class ReductionReport:
    space: str
    target: dict[str, Any]
    depths: list[DepthReport] = field(default_factory=list)
    seconds: float = 0.0
    method: str = "enumerate"    # how X^f was made: "dag" (built as its DAG), "enumerate"
    #                                (members listed level by level), "count" (not listed) or
    #                                "count+dag" (too many to list, counted, then built as its
    #                                DAG from the counts: a FeasibleTree all the same)
    costs: str = ""
    conservative: bool = False   # counted with an upper bound of the RAM (a subset of X^f)
    count_seconds: float = 0.0   # the counting DP over all depths (not in the depths' seconds)
    dag_seconds: float = 0.0     # building a counted set as its DAG (``method="count+dag"``)

    @property
    def size(self) -> int:
        return sum(d.size for d in self.depths)

    @property
    def feasible(self) -> int:
        return sum(d.feasible for d in self.depths)

    def to_dict(self, timings: bool = True) -> dict[str, Any]:
        """``timings=False``: without the seconds, as stored in a feasible-set file (the same
        reduction must write the same bytes)."""
        return {"space": self.space, "target": self.target, "size": self.size,
                "feasible": self.feasible,
                **({"seconds": self.seconds, "count_seconds": self.count_seconds,
                    "dag_seconds": self.dag_seconds}
                   if timings else {}),
                "method": self.method, "costs": self.costs, "conservative": self.conservative,
                "depths": [d.to_dict(timings) for d in self.depths]}


def fingerprint(space: ChainSpace, target: Target, options: CostOptions) -> str:
    """Identifies a reduction result: same space + budgets + conventions -> same X^f."""
    from .. import __version__

    blob = json.dumps({"space": space.to_dict(), "rom": target.rom, "ram": target.ram,
                       "flops": target.flops, "options": options.to_dict(),
                       "version": __version__.split(".")[0]}, sort_keys=True)
    return hashlib.sha256(blob.encode()).hexdigest()[:16]


def cheapest_arch(t: DepthTables, c: Completion) -> tuple[int, ...] | None:
    """Grid positions of the all-minimum (greedy) network of this depth, None if none exists."""
    if not c.ok[0].any():
        return None
    pos = [int(np.argmax(c.ok[0]))]
    for k in range(t.depth - 1):
        pos.append(int(c.nxt[k][pos[-1]]))
    return tuple(pos)


def cheapest_costs(t: DepthTables, c: Completion, options: CostOptions) -> dict[str, int] | None:
    """Costs of the all-minimum network of this depth as the reduction bounds them (without
    the fixed parts); for ``tflm`` the RAM is the monotone lower bound. None if rules allow none.
    """
    pos = cheapest_arch(t, c)
    if pos is None:
        return None
    first = pos[0]
    rom = int(t.rom[0][0, first] + c.rom[0][first])
    flops = int(t.flops[0][0, first] + c.flops[0][first])
    ram = int(ram_of(t, np.array(max(t.in_bytes, c.even[0][first])),
                     np.array(max(t.out[0][first], c.odd[0][first])),
                     np.array(max(t.peak[0][0, first], c.pair[0][first])),
                     np.array(t.pers[0][0, first] + c.pers[0][first])))
    return {"rom": rom, "ram": ram, "flops": flops}


def lower_bound_ok(cheap: dict[str, int] | None, target: Target) -> bool:
    return cheap is not None and all(
        getattr(target, k) is None or cheap[k] <= getattr(target, k)
        for k in ("rom", "ram", "flops"))


#: feasible sets larger than this are counted (DP) instead of listed
ENUMERATE_LIMIT = 20_000_000
#: a space whose cost tables need more (previous width, width) layer pairs than this is refused
#: before any work: at ~90 us a pair (tflm, measured on the 2-core dev machine) this is ~3 min
MAX_LAYER_PAIRS = 2_000_000


def layer_pairs(space: ChainSpace) -> int:
    """How many layers the cost tables cost (one per previous width x width, every depth):
    the reduction's work before any enumeration, known without building anything."""
    total = 0
    for d in space.depths:
        prev = 1
        for i in range(d):
            n = len(space.grid(d, i))
            total += prev * n
            prev = n
    return total


def count_progress(log: Callable[[str], None]) -> Callable[[str], None]:
    """A ``progress`` for :func:`reduce_space` that passes on only a long count's lines (for
    callers that print the per-depth report themselves, or not at all)."""
    return lambda line: log(line) if line.startswith("counting") else None


def check_work(space: ChainSpace, limit: int = MAX_LAYER_PAIRS) -> None:
    """Refuse an oversized reduction in one line before it starts."""
    work = layer_pairs(space)
    if work > limit:
        widest = max(len(space.grid(d, i)) for d in space.depths for i in range(d))
        raise InvalidSpaceError(
            f"space {space.name!r} needs {work:,} layer costs to reduce (depth up to "
            f"{space.depth_max}, up to {widest} widths a layer), over the limit of {limit:,} "
            "(about 3 minutes); narrow the depth range or the width grids, or pass "
            "max_layer_pairs= to reduce_space")


def reduce_space(
    space: ChainSpace,
    target: Target,
    options: CostOptions | None = None,
    *,
    method: str = "auto",
    enumerate_limit: int = ENUMERATE_LIMIT,
    progress: Callable[[str], None] | None = None,
    max_layer_pairs: int = MAX_LAYER_PAIRS,
) -> tuple[Any, ReductionReport]:
    """Reduce ``space`` to the networks that fit ``target`` under ``options`` (default: the
    target's convention, :attr:`Target.costs`).

    Per depth: the all-minimum network is checked first (if it does not fit, no network of that
    depth does); M^red (Eq. 2) comes from the cheapest valid prefix + completion through each
    (layer, width); then the feasible set is either listed exactly as a :class:`FeasibleTree`
    or, when larger than ``enumerate_limit`` (or ``method="count"``), counted exactly by a DP
    (:class:`CountedSpace`: its size is known before anything is listed). With ``method="auto"``
    a counted set is then built as its DAG where that stays small (a :class:`FeasibleTree` of
    any size, one type for small and huge sets; the report's method says "count+dag"), else it
    stays a :class:`CountedSpace`. A tree is built directly as its DAG where one
    additive budget binds and the RAM model is not ``tflm`` (work ~ the DAG, :mod:`.dag`),
    else by enumerating its members (work ~ |X^f| L, :mod:`.enumerate`).

    Raises:
        InfeasibleSpaceError: no depth has a feasible network; the message names the cheapest
            network's ROM/RAM/FLOPs against the budgets.
    """
    from .._core.validation import check_choice

    check_choice(method, "method", "reduce_space", ("auto", "enumerate", "count"))
    if options is None:  # the target's own convention (paper targets: paper; else tflm)
        from ..cost.conventions import resolve_costs

        options = resolve_costs(None, target=target)
    if not space.chained:   # named dimensions: factor tables, listed level by level
        return _reduce_named(space, target, options, method, progress, max_layer_pairs)
    check_work(space, max_layer_pairs)
    if options.convention == "tflm":  # before any work: layers the constants do not cover
        from ..cost.tflm import check_calibrated

        for depth in space.depths:
            check_calibrated(probe_layers(space, depth), f"space {space.name!r}")
    start = time.perf_counter()
    report = ReductionReport(space.name, target.to_dict(), costs=options.describe())
    user_target, target = target, _net_budgets(target, options)
    prepared = []
    for depth in space.depths:
        t0 = time.perf_counter()
        tables = build_tables(space, depth, options)
        comp = completion(tables)
        cheap = cheapest_costs(tables, comp, options)
        ok = lower_bound_ok(cheap, target)
        m_red = reduced_bounds(tables, comp, target, options) if ok else None
        pos = cheapest_arch(tables, comp)
        shown = {}
        if pos is not None:  # what the user's budget sees: the exact cost of that network
            arch = tuple(int(tables.widths[j][p]) for j, p in enumerate(pos))
            est = estimate(space, arch, options)
            shown = {"rom": est.rom, "ram": est.ram, "flops": est.flops}
        report.depths.append(DepthReport(depth, space.size(depth), 0, shown, ok, m_red,
                                         time.perf_counter() - t0))
        prepared.append((tables, comp, ok))
    if not any(ok for _, _, ok in prepared):
        report.seconds = time.perf_counter() - start
        raise InfeasibleSpaceError(explain_empty(space, user_target, report, options))
    # box of the reduced bounds: enumerate directly when it is small anyway
    box = sum(_box_size(space, d.depth, d.m_red) for d in report.depths if d.m_red)
    use_count = method == "count" or (method == "auto" and box > enumerate_limit)
    counters: dict[int, DepthCounter] = {}
    not_countable = ""
    must_count, superset = False, 0
    if use_count:
        live = [(tables, comp, d) for (tables, comp, ok), d in zip(prepared, report.depths)
                if ok]
        try:
            if options.ram_model == "tflm" and target.ram is not None:
                # list exactly when even a superset of X^f is small enough to list
                superset = _count_total({d.depth: t.lower_bound(_pers_min(t, c))
                                         for t, c, d in live}, target, options)
                if method == "auto" and superset <= enumerate_limit:
                    raise _ListIt()
                must_count = True  # listing a superset this large is not an option
            feasible_tables = {d.depth: _countable(t, d, target, options) for t, _, d in live}
            feasible_tables = {k: v for k, v in feasible_tables.items() if v is not None}
            if not feasible_tables:
                raise NotCountableError("no network fits under the upper bound of TFLM's "
                                        "arena that counting uses; narrow the space to list it")
            axis = choose_axis(list(feasible_tables.values()), target)
            t0 = time.perf_counter()
            parts = forward_counts(feasible_tables, target, options, axis, progress)
            report.count_seconds = time.perf_counter() - t0
            counters = {d: DepthCounter(t, target, options, axis, parts[d])
                        for d, t in feasible_tables.items()}
        except _ListIt:
            counters = {}
        except NotCountableError as exc:
            if must_count:
                raise NotCountableError(
                    f"X^f of {space.name!r} is too large to list exactly (a superset has "
                    f"{superset:.3g} networks under {options.describe()}) and {exc}") from None
            if method == "count":
                raise
            counters, not_countable = {}, str(exc)
        total = sum(c.count for c in counters.values())
        use_count = bool(counters) and (method == "count" or total > enumerate_limit
                                        or options.ram_model == "tflm")
    meta = {"target": user_target.to_dict(), "options": options.to_dict(),
            "fingerprint": fingerprint(space, user_target, options)}
    if use_count:
        report.method = "count"
        report.conservative = options.ram_model == "tflm" and target.ram is not None
        for d in report.depths:
            d.feasible = counters[d.depth].count if d.depth in counters else 0
            if d.depth not in counters:
                d.m_red = None
        counted = CountedSpace(space, counters, meta)
        tree = None
        if method == "auto":  # one type wherever the DAG stays small: built from the counts
            t0 = time.perf_counter()
            tree = counted_as_tree(counted)
            report.dag_seconds = time.perf_counter() - t0
            if tree is not None:
                report.method = "count+dag"
                if progress:
                    progress(f"built as its DAG: {tree.n_nodes:,} nodes")
            elif progress:
                progress(f"kept as counts: {NO_DAG_REASON}")
        report.seconds = time.perf_counter() - start
        meta["report"] = report.to_dict(timings=False)
        if tree is not None:
            tree.meta = dict(meta)
            return tree, report
        return counted, report
    dags = {}
    axis = _dag_axis([t for t, _, ok in prepared if ok], target)
    built: set[str] = set()
    for (tables, comp, ok), d in zip(prepared, report.depths):
        t0 = time.perf_counter()
        try:
            if not ok:
                dag = None
            elif dag_applies(tables, axis):  # built as a DAG: work follows the DAG's size
                dag = build_dag(tables, comp, target, options, axis)
                built.add("dag")
            else:  # tflm's exact replay, two binding budgets: list the members
                dag = enumerate_depth(tables, comp, target, options)
                built.add("enumerate")
        except MemoryError as exc:
            raise NotCountableError(
                f"X^f of {space.name!r} is too large to list ({exc}) and "
                + (not_countable or "cannot be counted exactly")) from None
        if dag is not None:
            dags[d.depth] = dag
            d.feasible = dag.size
            d.m_red = _m_red(dag, tables)  # exact: the largest width some member has
        else:
            d.m_red = None
        d.seconds += time.perf_counter() - t0
        if progress:
            progress(f"depth {d.depth}: {d.feasible:,} feasible of {d.size:,}")
    if not dags:
        report.seconds = time.perf_counter() - start
        raise InfeasibleSpaceError(explain_empty(space, user_target, report, options))
    report.method = "+".join(sorted(built, reverse=True))  # "enumerate", "dag" or both
    report.seconds = time.perf_counter() - start
    meta["report"] = report.to_dict(timings=False)
    return FeasibleTree(space, dags, meta), report


def _reduce_named(space: ChainSpace, target: Target, options: CostOptions, method: str,
                  progress: Callable[[str], None] | None, max_cells: int
                  ) -> tuple[FeasibleTree, ReductionReport]:
    """:func:`reduce_space` for a space of named dimensions (:mod:`.dimensions`)."""
    from .dimensions import check_space, reduce_dimensions

    if method == "count":
        raise NotCountableError(f"space {space.name!r} searches named dimensions: its "
                                "feasible set is built as a tree (with exact counts where the "
                                "costs allow) by --method auto")
    check_space(space, options, max_cells)
    start = time.perf_counter()
    dims, _ = space.backbone_impl.structure(space)
    report = ReductionReport(space.name, target.to_dict(), costs=options.describe())
    tree, info = reduce_dimensions(space, target, _net_budgets(target, options), options,
                                   progress)
    est = estimate(space, tuple(d.grid[0] for d in dims), options)
    shown = {"rom": est.rom, "ram": est.ram, "flops": est.flops}
    m_red = None if tree is None else tuple(
        int(d.grid[p]) for d, p in zip(dims, tree.dags[len(dims)].max_positions()))
    report.depths.append(DepthReport(len(dims), space.size(), 0 if tree is None else tree.size,
                                     shown, target.fits(est.rom, est.ram, est.flops), m_red,
                                     info["seconds"]))
    report.seconds = time.perf_counter() - start
    if tree is None:
        raise InfeasibleSpaceError(explain_empty(space, target, report, options))
    report.method = info["method"]
    meta = {"target": target.to_dict(), "options": options.to_dict(),
            "fingerprint": fingerprint(space, target, options),
            "report": report.to_dict(timings=False)}
    tree.meta = meta
    if progress:
        progress(f"{tree.size:,} feasible of {space.size():,}")
    return tree, report


def _dag_axis(tables: list[DepthTables], target: Target) -> Axis | None:
    """The one additive budget the DAG builder tracks; None when it cannot (enumerate)."""
    try:
        return choose_axis(tables, target) if tables else None
    except NotCountableError:
        return None


class _ListIt(Exception):
    """Internal: a superset of X^f is small enough, so list X^f exactly instead."""


def _pers_min(t: DepthTables, c: Completion) -> int:
    """Persistent part of the cheapest network of a depth (a lower bound of every member's)."""
    pos = cheapest_arch(t, c)
    if pos is None:
        return 0
    return t.persistent_bound(list(pos))


def _count_total(tables: dict[int, DepthTables], target: Target, options: CostOptions) -> int:
    """The size of the set ``tables`` describe (0 when none of it is countable)."""
    try:
        axis = choose_axis(list(tables.values()), target)
        parts = forward_counts(tables, target, options, axis)
    except NotCountableError:
        return ENUMERATE_LIMIT + 1
    return sum(p.count for ps in parts.values() for p in ps)


def _countable(tables: DepthTables, d: DepthReport, target: Target,
               options: CostOptions) -> DepthTables | None:
    """The tables the counting DP counts: the tables themselves, or for ``tflm`` their
    monotone upper bound (window bound + a bound of the persistent part), a subset of X^f."""
    if tables.ram_shape != "tflm" or target.ram is None:
        return tables
    pos = [int(np.searchsorted(tables.widths[j], w)) for j, w in enumerate(d.m_red)]
    ub = tables.upper_bound(pos)
    m_red = reduced_bounds(ub, completion(ub), target, options)
    d.m_red = m_red
    return ub if m_red is not None else None


def _net_budgets(target: Target, options: CostOptions) -> Target:
    """What the layers may use: the budgets minus the target's reserves and the convention's
    fixed parts (the flatbuffer container, TFLM's fixed persistent arena), once."""
    from dataclasses import replace

    fixed = {"rom": fixed_rom(options), "ram": fixed_ram(options)}
    out = {}
    for what in ("rom", "ram"):
        budget = getattr(target, what)
        if budget is None:
            out[what] = None
            continue
        reserve = getattr(target, f"{what}_reserve")
        left = budget - reserve - fixed[what]
        if left <= 0:
            parts = [f"the reserve {fmt_bytes(reserve)}"] if reserve else []
            if fixed[what]:
                parts.append(f"the fixed {fixed[what]:,} B of every {options.describe()} "
                             "network")
            raise InfeasibleSpaceError(
                f"the {what.upper()} budget {fmt_bytes(budget)} of {target.describe()} leaves "
                f"nothing for the network after {' and '.join(parts)}; raise --{what}"
                + (f" or lower --{what}-reserve" if reserve else ""))
        out[what] = left
    return replace(target, rom=out["rom"], ram=out["ram"], rom_reserve=0, ram_reserve=0)


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
        ram = ram_of(t, np.maximum(pre.even[i], comp.even[i]), np.maximum(pre.odd[i],
                                                                          comp.odd[i]),
                     np.maximum(pre.pair[i], comp.pair[i]), pre.pers[i] + comp.pers[i])
        for v, budget in ((rom, target.rom), (flops, target.flops), (ram, target.ram)):
            if budget is not None:
                ok &= v <= budget
        if not ok.any():
            return None
        out.append(int(t.widths[i][np.nonzero(ok)[0].max()]))
    return tuple(out)


def _m_red(dag: Any, tables: DepthTables) -> tuple[int, ...]:
    """M_i^red = the largest width of layer i over X^f_L (Eq. 2)."""
    return tuple(int(tables.widths[j][p]) for j, p in enumerate(dag.max_positions()))


def explain_empty(space: ChainSpace, target: Target, report: ReductionReport,
                  options: CostOptions | None = None) -> str:
    """One line: why nothing fits, with the cheapest network's costs against the budget."""
    best = min((d for d in report.depths if d.cheapest), key=lambda d: d.cheapest["rom"],
               default=None)
    if best is None:
        return f"space {space.name!r} has no valid architecture under its structural rules"
    c = best.cheapest
    over = []
    for what, used in (("ROM", c["rom"]), ("RAM", c["ram"]), ("FLOPs", c["flops"])):
        key = what.lower()
        budget = getattr(target, key)
        left = target.available(key)
        if budget is not None and used > left:
            if what == "FLOPs":
                over.append(f"FLOPs {used:,} > {budget:,}")
                continue
            reserve = getattr(target, f"{key}_reserve")
            extra = f" + reserve {fmt_bytes(reserve)}" if reserve else ""
            over.append(f"{what} {used:,} B{extra} > {fmt_bytes(budget)}")
    if not over:  # the bounds admit it but the exact TFLM arena check does not
        over.append(f"RAM {c['ram']:,} B (TFLM's planned arena) > "
                    f"{fmt_bytes(target.available('ram'))}")
    costs = f" ({options.describe()})" if options is not None else ""
    if not space.chained:   # named dimensions: one "depth", the number of dimensions
        return (f"no architecture of space {space.name!r} fits target {target.describe()}"
                f"{costs}: the smallest one (every dimension at its smallest value) needs "
                f"{', '.join(over)}; raise the budget, lower the dimensions' smallest values, "
                "or shrink the input")
    return (f"no architecture of space {space.name!r} (depth {space.depth_min}..{space.depth_max})"
            f" fits target {target.describe()}{costs}: the smallest one (depth {best.depth}, all "
            f"widths minimal) needs {', '.join(over)}; raise the budget, lower the minimum widths "
            "or depth, or shrink the input")


__all__ = ["CountedSpace", "DepthReport", "ReductionReport", "fingerprint", "reduce_space",
           "reduced_bounds"]
