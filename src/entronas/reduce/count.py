"""Exact counting, ranking and uniform sampling of X^f without listing it.

For feasible sets too large to enumerate (ConvMixer under the small MCU has ~10^10 members) we
run a dynamic programme over the layers. Chain costs are sums of per-layer terms that depend on
(M_{i-1}, M_i), so one additive budget (ROM or FLOPs, whichever binds) becomes a DP axis in exact
integer units (costs divided by their gcd). RAM (Eq. 4) is a max per buffer parity, handled by
partitioning X^f by the value x of the even buffer: networks whose even buffers are all <= x
and odd buffers <= B_RAM - x, minus those whose even buffers are all < x. The chain RAM model is a
per-transition mask instead.

Everything here is exact: counts, M^red, rank/unrank and therefore uniform sampling. The one
unsupported case is two binding additive budgets at once (ROM and FLOPs) on a set too large to
enumerate; that raises a clear error.
"""

from __future__ import annotations

import functools
import math
import os
import threading
import time
from dataclasses import dataclass
from functools import reduce as _reduce
from typing import Any, Callable, Iterator, Sequence

import numpy as np

from .._core.errors import InfeasibleSpaceError
from ..cost.options import CostOptions
from ..targets.base import Target
from .feasible import FeasibleSet
from .tables import DepthTables, layer_is_even

MAX_AXIS_UNITS = 5_000_000


class NotCountableError(InfeasibleSpaceError):
    """The DP cannot count this feasible set exactly (two binding additive budgets)."""


@dataclass
class _Partition:
    even_cap: int | None       # None: RAM not constrained (or the chain model)
    odd_cap: int | None
    prev_even_cap: int | None  # the subtracted set's even cap (None: nothing subtracted)
    count: int = 0


@dataclass(frozen=True)
class Axis:
    """The one additive budget tracked exactly by the DP, in units of the gcd of the layer costs.

    The searched layers' total is a multiple of ``unit``, so "layers + tail <= budget" is
    exactly "layer units <= (budget - tail) // unit"; the tail need not share the gcd.
    """

    name: str | None   # "rom", "flops" or None (no additive budget binds)
    unit: int = 1
    units: int = 0     # budget // unit
    budget: int = 0

    def layer(self, t: DepthTables, k: int) -> np.ndarray:
        if self.name is None:
            return np.zeros_like(t.rom[k])
        return getattr(t, self.name)[k] // self.unit

    def tail(self, t: DepthTables) -> np.ndarray:
        """Units that must stay unused before the tail (> units: the tail alone does not fit)."""
        if self.name is None:
            return np.zeros_like(t.tail_rom)
        room = (self.budget - getattr(t, f"tail_{self.name}")) // self.unit
        return self.units - room


#: counts stay in int64 while the box bounds them below this; above it, Python integers
#: (numpy object arrays: exact at any size, slower) so a count never wraps silently
INT64_SAFE = 2 ** 62


def count_dtype(t: DepthTables, depth: int | None = None) -> Any:
    """int64 when no count of the first ``depth`` layers can reach 2^62, else ``object``."""
    box = math.prod(len(o) for o in t.out[:t.depth if depth is None else depth])
    return np.int64 if box < INT64_SAFE else object


def _gcd(values: Sequence[np.ndarray]) -> int:
    g = 0
    for v in values:
        if v.size:
            g = math.gcd(g, int(_reduce(np.gcd, v.ravel().astype(np.int64))))
    return max(g, 1)


def _implied_bound(tables: Sequence[DepthTables], src: str, dst: str, src_budget: int) -> float:
    """An upper bound on total ``dst`` cost of any network whose ``src`` cost fits its budget.

    Every searched layer has dst <= rho * src with rho the largest ratio over all table entries,
    so the layers' dst total is at most rho * src_budget; the tail is added at its maximum.
    """
    rho = 0.0
    for t in tables:
        for a, b in zip(getattr(t, src), getattr(t, dst)):
            if ((a == 0) & (b > 0)).any():
                return math.inf
            nz = a > 0
            if nz.any():
                rho = max(rho, float((b[nz] / a[nz]).max()))
    tail = max(int(getattr(t, f"tail_{dst}").max()) for t in tables)
    return rho * src_budget + tail


def choose_axis(tables: Sequence[DepthTables], target: Target) -> Axis:
    """The additive budget that can bind (at most one is supported).

    A budget is inactive when even the most expensive network fits it, or when the other
    budget already implies it (e.g. ConvMixer: FLOPs = 128 x ROM in every searched layer, so a
    100 M FLOPs budget keeps ROM under ~0.8 MB and a 2 MB ROM budget can never bind).
    """
    budgets = {"rom": target.rom, "flops": target.flops}
    active = []
    for name, budget in budgets.items():
        if budget is None:
            continue
        worst = max(sum(int(x.max()) for x in getattr(t, name)) +
                    int(getattr(t, f"tail_{name}").max()) for t in tables)
        if worst > budget:
            active.append(name)
    if len(active) > 1:
        for dst, src in (("rom", "flops"), ("flops", "rom")):
            if _implied_bound(tables, src, dst, budgets[src]) <= budgets[dst]:
                active.remove(dst)
                break
    if len(active) > 1:
        raise NotCountableError(
            "both the ROM and the FLOPs budget bind on a feasible set too large to enumerate; "
            "exact counting supports one binding additive budget: drop or loosen one of them, "
            "or narrow the space"
        )
    if not active:
        return Axis(None)
    name = active[0]
    budget = int(budgets[name])
    g = _gcd([x for t in tables for x in getattr(t, name)])
    if budget // g > MAX_AXIS_UNITS:
        raise NotCountableError(f"the {name} budget spans {budget // g:,} cost units (gcd {g}); "
                                "too fine to count exactly: use coarser width steps")
    return Axis(name, g, int(budget // g), budget)


def partitions(t: DepthTables, target: Target, options: CostOptions) -> list[_Partition]:
    """Split X^f by the exact value of the even buffer (Eq. 4) so that RAM becomes two caps."""
    ram = target.ram
    if ram is None or t.pairwise:
        return [_Partition(None, None, None)]
    evens = {t.in_bytes}
    odd_max = 0
    for k in range(t.depth):
        if layer_is_even(k):
            evens.update(int(v) for v in t.out[k])
        else:
            odd_max = max(odd_max, int(t.out[k].max()))
    if max(evens) + odd_max <= ram:  # RAM cannot bind: one pass instead of one per value
        return [_Partition(None, None, None)]
    parts, prev = [], None
    for x in sorted(v for v in evens if t.in_bytes <= v <= ram):
        parts.append(_Partition(x, ram - x, prev))
        prev = x
    return parts


#: seconds between two progress lines of a long count
PROGRESS_EVERY_S = 3.0


def _pass_caps(parts: list[_Partition]) -> list[tuple]:
    """The (even cap, odd cap) pairs whose forward pass the partitions need, each once."""
    out: list[tuple] = []
    for p in parts:
        for caps in ((p.even_cap, p.odd_cap), (p.prev_even_cap, p.odd_cap)):
            if caps not in out and (caps[0] is not None or caps == (p.even_cap, p.odd_cap)):
                out.append(caps)
    return out


class _Rules:
    """Which transitions a DP may take under buffer caps (shared by counting and unranking)."""

    def __init__(self, t: DepthTables, target: Target, options: CostOptions) -> None:
        self.t, self.target, self.options = t, target, options

    def masks(self, even_cap: int | None, odd_cap: int | None) -> list[np.ndarray]:
        t = self.t
        masks = []
        for k in range(t.depth):
            cap = even_cap if layer_is_even(k) else odd_cap
            masks.append(np.ones(len(t.out[k]), bool) if cap is None else t.out[k] <= cap)
        if even_cap is not None and t.in_bytes > even_cap:
            masks[0] = np.zeros_like(masks[0])
        return masks

    def transition(self, k: int, masks: list[np.ndarray]) -> np.ndarray:
        t = self.t
        ok = t.allowed[k] & masks[k][None, :]
        if t.pairwise and self.target.ram is not None:
            ok = ok & (t.peak[k] <= self.target.ram)
        return ok

    def tail_ok(self, t: DepthTables) -> np.ndarray:
        """Last widths whose fixed tail fits the RAM budget (pairwise RAM models only)."""
        if t.pairwise and self.target.ram is not None:
            return t.tail_peak <= self.target.ram
        return np.ones(len(t.tail_peak), bool)


def forward_counts(tables: dict[int, DepthTables], target: Target, options: CostOptions,
                   axis: Axis, progress: Callable[[str], None] | None = None
                   ) -> dict[int, list[_Partition]]:
    """Partition counts for every depth; depths whose layers coincide share one forward pass.

    ``progress`` hears a line every few seconds while the passes run (one pass per value of the
    even buffer when RAM binds, each over all cost units: deep spaces can take a minute)."""
    deepest = tables[max(tables)]
    shared = all(_same_prefix(tables[d], deepest) for d in tables)
    groups = [(deepest, sorted(tables))] if shared else [(tables[d], [d]) for d in sorted(tables)]
    jobs = [(t, depths, caps, m) for t, depths in groups
            for caps in _pass_caps(partitions(t, target, options)) for m in _moduli(t, depths)]
    start = last = time.perf_counter()
    result: dict[int, list[_Partition]] = {}
    done = 0
    for t, depths in groups:
        rules = _Rules(t, target, options)
        parts = partitions(t, target, options)
        moduli = _moduli(t, depths)
        totals: dict[tuple, dict[int, int]] = {}
        for caps in _pass_caps(parts):
            res = []
            for m in moduli:
                res.append(_forward_mod(rules, axis, caps, depths, tables, m))
                done += 1
                now = time.perf_counter()
                if progress and now - last >= PROGRESS_EVERY_S and done < len(jobs):
                    last = now
                    big = " (counts above 2^62: modulo primes)" if m is not None else ""
                    left = (now - start) / done * (len(jobs) - done)
                    progress(f"counting X^f exactly{big}: {done}/{len(jobs)} passes, "
                             f"{now - start:.0f} s, about {left:.0f} s left")
            totals[caps] = res[0] if moduli == [None] else \
                {d: crt([r[d] for r in res], moduli) for d in res[0]}
        for d in depths:
            out = []
            for p in parts:
                a = totals[(p.even_cap, p.odd_cap)][d]
                b = totals[(p.prev_even_cap, p.odd_cap)][d] if p.prev_even_cap is not None else 0
                if a - b > 0:
                    out.append(_Partition(p.even_cap, p.odd_cap, p.prev_even_cap, a - b))
            result[d] = out
    return result


def _same_prefix(t: DepthTables, deep: DepthTables) -> bool:
    for k in range(t.depth):
        for name in ("rom", "flops", "allowed", "peak"):
            x, y = getattr(t, name)[k], getattr(deep, name)[k]
            if x.shape != y.shape or (x != y).any():
                return False
        if (t.out[k] != deep.out[k]).any() or (t.widths[k] != deep.widths[k]).any():
            return False
    return True


def _moduli(t: DepthTables, depths: list[int]) -> list:
    """[None] (exact int64 passes) when no count can reach 2^62, else primes below 2^31.

    Counts that can pass 2^62 are computed modulo each prime in int64 and joined by the
    Chinese remainder theorem: exact (the primes' product exceeds the box) and ~30x faster
    than the same DP on Python integers (one pass per prime, one pass's memory).
    """
    if count_dtype(t, max(depths)) is not object:
        return [None]
    return list(crt_primes(math.prod(len(o) for o in t.out[:max(depths)])))


def _forward_mod(rules: _Rules, axis: Axis, caps: tuple, depths: list[int],
                 tables: dict[int, DepthTables], p: int | None) -> dict[int, int]:
    """Networks under ``caps`` for each depth (forward DP over cost units) in int64, modulo
    ``p`` (None: exact, the box is below 2^62; see :func:`_moduli`).

    With p < 2^31 nothing overflows: a layer adds at most MAX_GRID terms below p before it is
    reduced, a cumulative sum at most MAX_AXIS_UNITS + 1."""
    t, R = rules.t, axis.units
    masks = rules.masks(*caps)
    ok0 = rules.transition(0, masks)[0]
    cost0 = axis.layer(t, 0)[0]
    F = np.zeros((len(t.out[0]), R + 1), dtype=np.int64)
    for b in np.nonzero(ok0 & (cost0 <= R))[0]:
        F[b, cost0[b]] = 1
    totals = {}
    for k in range(max(depths)):
        if k > 0:
            ok = rules.transition(k, masks)
            cost = axis.layer(t, k)
            G = np.zeros((len(t.out[k]), R + 1), dtype=np.int64)
            for a, b in zip(*np.nonzero(ok & (cost <= R))):
                c = int(cost[a, b])
                G[b, c:] += F[a, :R + 1 - c]
            if p is not None:
                G %= p
            F = G
        if k + 1 in depths:
            tail = axis.tail(tables[k + 1])
            cum = np.cumsum(F, axis=1)
            room = R - tail
            fits = rules.tail_ok(tables[k + 1])
            terms = [int(cum[b, room[b]]) for b in range(len(tail)) if room[b] >= 0 and fits[b]]
            totals[k + 1] = sum(terms) if p is None else sum(v % p for v in terms) % p
    return totals


@functools.cache
def _primes_below_2_31(n: int) -> tuple[int, ...]:
    """The ``n`` largest primes below 2^31 (trial division by the primes up to 46,341)."""
    limit = 46_341
    sieve = np.ones(limit + 1, bool)
    sieve[:2] = False
    for i in range(2, int(limit ** 0.5) + 1):
        if sieve[i]:
            sieve[i * i::i] = False
    small = np.nonzero(sieve)[0]
    out: list[int] = []
    c = 2 ** 31 - 1
    while len(out) < n:
        if (c % small).all():
            out.append(c)
        c -= 2
    return tuple(out)


def crt_primes(bound: int) -> tuple[int, ...]:
    """Primes below 2^31 whose product exceeds ``bound`` (a count below it is then exact)."""
    n = bound.bit_length() // 30 + 1
    return _primes_below_2_31(n)


def crt(residues: Sequence[int], primes: Sequence[int]) -> int:
    """The integer in [0, prod(primes)) with these residues (Chinese remainder theorem)."""
    x, m = 0, 1
    for r, p in zip(residues, primes):  # Garner-style: keep x mod m, extend to m * p
        x += m * ((int(r) - x) * pow(m, -1, p) % p)
        m *= p
    return x


def _same_suffix(t: DepthTables, deep: DepthTables) -> bool:
    """Whether layers 1.. of ``t`` and its tail are the last layers of ``deep`` at an even
    shift (widths from layer 0 on): then t's suffix tables S[k] are deep's S[k + shift]
    (Eq. 4's buffer parity is kept by the even shift). True for chains of identical blocks,
    e.g. ConvMixer, whose depths then share one set of tables."""
    s = deep.depth - t.depth
    if s <= 0 or s % 2 or t.ram_shape != deep.ram_shape or t.in_bytes != deep.in_bytes:
        return False
    for k in range(t.depth):
        if not (np.array_equal(t.out[k], deep.out[k + s])
                and np.array_equal(t.widths[k], deep.widths[k + s])):
            return False
        if k and not all(np.array_equal(getattr(t, n)[k], getattr(deep, n)[k + s])
                         for n in ("rom", "flops", "allowed", "peak")):
            return False
    return all(np.array_equal(getattr(t, n), getattr(deep, n))
               for n in ("tail_rom", "tail_flops", "tail_peak"))


def suffix_tables(rules: _Rules, axis: Axis, caps: tuple,
                  cost: Callable[[int], np.ndarray] | None = None) -> list[np.ndarray]:
    """S[k][b, r]: completions of layers k+1.. (and the tail) under the buffer caps ``caps``,
    given M_k = grid[k][b] and r cost units of ``axis`` left (nested in r: more units, a
    superset). ``cost(k)`` gives layer k's units per grid pair (default: from the axis)."""
    t, R = rules.t, axis.units
    cost = cost or (lambda k: axis.layer(t, k))
    masks = rules.masks(*caps)
    L = t.depth
    S: list[np.ndarray] = [None] * L  # type: ignore[list-item]
    dtype = count_dtype(t)
    last = np.zeros((len(t.out[L - 1]), R + 1), dtype=dtype)
    fits = rules.tail_ok(t)
    for b, c in enumerate(axis.tail(t)):
        if masks[L - 1][b] and c <= R and fits[b]:
            last[b, c:] = 1
    S[L - 1] = last
    for k in range(L - 2, -1, -1):
        cur = np.zeros((len(t.out[k]), R + 1), dtype=dtype)
        ok = rules.transition(k + 1, masks)
        ck = cost(k + 1)
        for a, b in zip(*np.nonzero(ok & (ck <= R))):
            c = int(ck[a, b])
            cur[a, c:] += S[k + 1][b, :R + 1 - c]
        S[k] = cur
    return S


class DepthCounter:
    """Exact ranker/unranker of X^f_L for one depth (suffix tables built lazily per partition)."""

    def __init__(self, t: DepthTables, target: Target, options: CostOptions, axis: Axis,
                 parts: list[_Partition]) -> None:
        self.t, self.axis, self.partitions = t, axis, parts
        self.rules = _Rules(t, target, options)
        self.count = sum(p.count for p in parts)
        self._suffix_cache: dict[tuple, list[np.ndarray]] = {}
        self._lock = threading.Lock()
        #: (deeper counter, shift) whose suffix tables are this depth's (see _same_suffix)
        self.donor: tuple[DepthCounter, int] | None = None

    @property
    def units(self) -> int:
        return self.axis.units

    def _cost(self, k: int) -> np.ndarray:
        """Layer k's cost units per grid pair (cached: asked once per layer and batch)."""
        if not hasattr(self, "_costs"):
            self._costs = [self.axis.layer(self.t, j) for j in range(self.t.depth)]
        return self._costs[k]

    def _suffix(self, even_cap: int | None, odd_cap: int | None) -> list[np.ndarray]:
        """S[k][b, r]: completions of layers k+1.. given M_k = b and r units left."""
        if self.donor is not None:
            deeper, shift = self.donor
            return deeper._suffix(even_cap, odd_cap)[shift:]
        with self._lock:  # decoding threads share one cache per counter
            return self._suffix_locked(even_cap, odd_cap)

    def _suffix_locked(self, even_cap: int | None, odd_cap: int | None) -> list[np.ndarray]:
        key = (even_cap, odd_cap)
        if key in self._suffix_cache:
            self._suffix_cache[key] = self._suffix_cache.pop(key)  # most recently used last
            return self._suffix_cache[key]
        S = suffix_tables(self.rules, self.axis, (even_cap, odd_cap), self._cost)
        while len(self._suffix_cache) >= 6:  # bounded memory: ~100 MB on the biggest spaces
            self._suffix_cache.pop(next(iter(self._suffix_cache)))
        self._suffix_cache[key] = S
        return S

    def release(self) -> None:
        """Drop the suffix tables (they can take ~64 MB per depth on big spaces)."""
        self._suffix_cache.clear()
        if self.donor is not None:
            self.donor[0].release()

    def _partition_tables(self, p: _Partition):
        A = self._suffix(p.even_cap, p.odd_cap)
        mA = self.rules.masks(p.even_cap, p.odd_cap)
        if p.prev_even_cap is None:
            return A, mA, None, None
        B = self._suffix(p.prev_even_cap, p.odd_cap)
        return A, mA, B, self.rules.masks(p.prev_even_cap, p.odd_cap)

    def unrank(self, idx: np.ndarray) -> np.ndarray:
        """Grid positions (N x L) of in-depth indices (vectorised per partition)."""
        out = np.empty((len(idx), self.t.depth), dtype=np.int64)
        for p, sel, r in self.split(idx):
            out[sel] = self._unrank_in(p, r)
        return out

    def split(self, idx: np.ndarray) -> Iterator[tuple[_Partition, np.ndarray, np.ndarray]]:
        """(partition, where in ``idx``, index inside the partition) per partition hit."""
        big = self.count >= INT64_SAFE
        idx = np.asarray(idx, dtype=object if big else np.int64)
        bounds = np.cumsum(np.array([0] + [p.count for p in self.partitions],
                                    dtype=object if big else np.int64))
        which = np.searchsorted(bounds, idx, side="right") - 1
        for j, p in enumerate(self.partitions):
            sel = np.nonzero(which == j)[0]
            if len(sel):
                yield p, sel, idx[sel] - bounds[j]

    def _unrank_in(self, p: _Partition, r: np.ndarray) -> np.ndarray:
        """Grid positions of in-partition indices ``r``: per layer, the first width whose
        cumulative child count exceeds the remaining index (all queries at once)."""
        A, mA, B, mB = self._partition_tables(p)
        n = len(r)
        pos = np.empty((n, self.t.depth), dtype=np.int64)
        rem = np.full(n, self.units, dtype=np.int64)
        in_b = np.ones(n, dtype=bool) if B is not None else None
        prev = np.zeros(n, dtype=np.int64)
        r = r.copy()
        # queries whose prefixes agree so far (runs of neighbours: r is sorted when the
        # indices are) share one state, so early layers count children once per run
        fresh = np.zeros(n, dtype=bool)
        fresh[:1] = True
        for k in range(self.t.depth):
            run = np.cumsum(fresh) - 1
            if n and run[-1] + 1 < n // 2:
                first = np.nonzero(fresh)[0]
                cnt = self._child_counts(k, prev[first], rem[first],
                                         None if in_b is None else in_b[first],
                                         A, mA, B, mB)[run]
            else:
                cnt = self._child_counts(k, prev, rem, in_b, A, mA, B, mB)
            np.cumsum(cnt, axis=1, out=cnt)
            b = (cnt <= r[:, None]).sum(axis=1)
            r -= np.where(b > 0, np.take_along_axis(cnt, np.maximum(b - 1, 0)[:, None],
                                                    axis=1)[:, 0], 0)
            pos[:, k] = b
            fresh[1:] |= b[1:] != b[:-1]
            rem -= self._cost(k)[prev, b]
            if in_b is not None:
                in_b &= mB[k][b]
            prev = b
        return pos

    def _child_counts(self, k: int, prev: np.ndarray, rem: np.ndarray, in_b: np.ndarray | None,
                      A: list[np.ndarray], mA: list[np.ndarray], B: list[np.ndarray] | None,
                      mB: list[np.ndarray] | None) -> np.ndarray:
        """(n, W_k): members of the partition below each query's prefix extended by each width
        (``prev`` is 0 for layer 0, whose tables have one row)."""
        left = rem[:, None] - self._cost(k)[prev]
        fits = left >= 0
        # flat indices into the (W_k, R + 1) tables: one take instead of 2-D fancy indexing
        offsets = np.arange(0, len(self.t.out[k]) * (self.units + 1), self.units + 1)
        left += offsets
        np.maximum(left, offsets, out=left)
        cnt = A[k].ravel().take(left)
        cnt *= self.rules.transition(k, mA)[prev] & fits
        if B is not None:  # only prefixes still inside the subtracted set
            q = np.nonzero(in_b)[0] if not in_b.all() else slice(None)
            sub = B[k].ravel().take(left[q])
            sub *= self.rules.transition(k, mB)[prev[q]] & fits[q]
            cnt[q] -= sub
        return cnt

    def rank(self, pos: np.ndarray) -> int | None:
        """In-depth index of one grid-position vector, None if it is not feasible."""
        t = self.t
        x = max([t.in_bytes] + [int(t.out[k][pos[k]]) for k in range(t.depth)
                                if layer_is_even(k)])
        start = 0
        for p in self.partitions:
            if p.even_cap is None or p.even_cap == x:
                return self._rank_in(p, pos, start)
            start += p.count
        return None

    def _rank_in(self, p: _Partition, pos: np.ndarray, start: int) -> int | None:
        tabs = self._partition_tables(p)
        rem = np.array([self.units], np.int64)
        in_b = np.ones(1, bool)
        prev = np.zeros(1, np.int64)
        r = 0
        for k in range(self.t.depth):
            cnt = self._child_counts(k, prev, rem, in_b, *tabs)[0]
            b = int(pos[k])
            if cnt[b] <= 0:
                return None
            r += int(cnt[:b].sum())
            rem = rem - self._cost(k)[prev if k else np.zeros(1, np.int64), np.array([b])]
            if tabs[3] is not None:
                in_b &= tabs[3][k][b]
            prev = np.array([b])
        return start + r


class CountedSpace(FeasibleSet):
    """X^f of a space too large to list: exact ``len``, indexing, ranking and uniform sampling.

    Same read interface as :class:`~entronas.reduce.tree.FeasibleTree`, without storing members.
    Recently decoded members are memoised, so repeated lookups of a sample pool stay cheap.
    """

    MEMO_LIMIT = 2_000_000

    def __init__(self, space: Any, counters: dict[int, DepthCounter],
                 meta: dict[str, Any] | None = None) -> None:
        self.counters = {d: c for d, c in sorted(counters.items()) if c.count > 0}
        for d, c in self.counters.items():  # the deepest counter with the same suffix donates
            c.donor = next(((deep, deep.t.depth - d) for deep in reversed(self.counters.values())
                            if deep.t.depth > d and deep.axis == c.axis
                            and _same_suffix(c.t, deep.t)), None)
        super().__init__(space, {d: c.count for d, c in self.counters.items()}, meta)
        self._memo: dict[int, tuple[int, ...]] = {}

    def _unrank(self, depth: int, local: np.ndarray) -> np.ndarray:
        counter = self.counters[depth]
        pos = counter.unrank(local)
        counter.release()
        return pos

    def positions_by_depth(self, indices: Sequence[int] | np.ndarray
                           ) -> Iterator[tuple[int, np.ndarray, np.ndarray]]:
        """As :meth:`FeasibleSet.positions_by_depth`, decoding partition by partition across
        all depths, so that depths sharing suffix tables (see ``_same_suffix``) build them once
        per partition instead of once per depth."""
        results, work, n = [], {}, 0
        for depth, sel, local in self._by_depth(indices):
            counter = self.counters[depth]
            pos = np.empty((len(sel), depth), dtype=np.int64)
            results.append((depth, sel, pos))
            n += len(sel)
            for p, psel, r in counter.split(local):
                key = (p.even_cap, p.odd_cap, p.prev_even_cap)
                work.setdefault(key, []).append((counter, p, psel, r, pos))

        def decode(key: tuple) -> None:
            for counter, p, psel, r, pos in work[key]:
                pos[psel] = counter._unrank_in(p, r)

        keys = sorted(work, key=lambda c: tuple(-1 if v is None else v for v in c))
        try:  # partitions in parallel threads (numpy releases the GIL); results are per slice
            if n >= 20_000 and len(keys) > 1 and (os.cpu_count() or 1) > 1:
                from concurrent.futures import ThreadPoolExecutor

                # at most 3: each needs 2 of the 6 cached suffix tables per depth it reads
                with ThreadPoolExecutor(min(len(keys), os.cpu_count() or 1, 3)) as ex:
                    list(ex.map(decode, keys))
            else:
                for key in keys:
                    decode(key)
        finally:
            for counter in self.counters.values():
                counter.release()
        yield from results

    def _rank(self, depth: int, pos: np.ndarray) -> int | None:
        return self.counters[depth].rank(pos)

    def widths_of(self, indices: Sequence[int] | np.ndarray) -> list[tuple[int, ...]]:
        idx = self._index_array(indices)
        out = [self._memo.get(int(i), ()) for i in idx]
        todo = [k for k, w in enumerate(out) if not w]
        if todo:
            for k, w in zip(todo, super().widths_of(idx[todo])):
                out[k] = w
            if len(self._memo) + len(todo) <= self.MEMO_LIMIT:
                self._memo.update((int(idx[k]), out[k]) for k in todo)
        return out
