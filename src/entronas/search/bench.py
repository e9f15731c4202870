"""Which strategy? Every strategy, many repetitions, on a complete table of trained networks.

Why: a strategy's merit is its best network after k trained samples, averaged over many
seeds; on a complete table (every member of X^f trained with several seeds) this can be
measured in minutes, through the real Optuna samplers and the same objective a search runs.
Each sample is scored by one seed's accuracy (noisy, as a real search sees it); the search's
incumbent (its best noisy score so far) is judged by its mean accuracy over the seeds, and
regret is the feasible optimum's mean accuracy minus that.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass, field, replace
from typing import Any, Callable, Sequence

import numpy as np

from ..runs.record import Component, RunRecord
from .adapters import STATE, STRATEGIES, make_sampler, optuna
from .adapters.objective import Objective
from .table import TableEvaluator

#: k at which the Markdown table reports
REPORT_K = (1, 5, 10, 20, 40, 100)

_STATE: dict[str, Any] = {}   # per process: candidates and table (inherited on fork)


@dataclass
class StrategyCurve:
    """Mean incumbent accuracy after k = 1..K samples over the repetitions, and its SE."""

    strategy: str
    params: dict[str, Any]
    mean: np.ndarray
    se: np.ndarray
    reps: int
    infeasible: float = 0.0      # mean infeasible proposals per repetition
    seconds: float = 0.0         # mean wall time per repetition

    def at(self, k: int) -> tuple[float, float]:
        i = min(k, len(self.mean)) - 1
        return float(self.mean[i]), float(self.se[i])


@dataclass
class BenchResult:
    space: str
    target: str
    costs: str
    feasible: int
    optimum: float
    k: int
    curves: list[StrategyCurve] = field(default_factory=list)

    def rows(self, ks: Sequence[int] = REPORT_K) -> list[dict[str, Any]]:
        out = []
        for c in self.curves:
            for k in ks:
                if k > self.k:
                    continue
                m, se = c.at(k)
                out.append({"strategy": c.strategy, "k": k, "mean": m, "se": se,
                            "regret": self.optimum - m, "reps": c.reps})
        return out

    def markdown(self, ks: Sequence[int] = REPORT_K) -> str:
        ks = [k for k in ks if k <= self.k]
        best = {k: max(c.at(k)[0] for c in self.curves) for k in ks}
        lines = [f"{self.space} on {self.target} ({self.costs}): |X^f| = {self.feasible:,}, "
                 f"optimum {self.optimum:.4f}; mean incumbent accuracy after k samples "
                 f"(± standard error, {self.curves[0].reps if self.curves else 0} runs)", "",
                 "| strategy | " + " | ".join(f"k = {k}" for k in ks) + " |",
                 "|---|" + "---|" * len(ks)]
        for c in self.curves:
            cells = []
            for k in ks:
                m, se = c.at(k)
                mark = "**" if m >= best[k] else ""
                cells.append(f"{mark}{m:.4f}{mark} ± {se:.4f}")
            lines.append(f"| {c.strategy} | " + " | ".join(cells) + " |")
        return "\n".join(lines)


def _setup(record: RunRecord, table: str, candidates: Any) -> None:
    _STATE.update(record=record, table=TableEvaluator(table, noisy=True), candidates=candidates)


def run_one(job: tuple[str, str, dict[str, Any], int, int]
            ) -> tuple[str, list[float], list[float], int, float]:
    """One repetition: (strategy, noisy scores, mean accuracies in completion order,
    infeasible proposals, seconds)."""
    import time

    label, name, params, rep, k = job
    record: RunRecord = _STATE["record"]
    cands = _STATE["candidates"]
    rec = replace(record, strategy=Component(name, params), seed=rep, trials=k)
    sampler = make_sampler(name, cands, params, "", rep)
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        study = optuna.create_study(direction="maximize", sampler=sampler)

    def stop(study: Any, trial: Any) -> None:
        if len(study.get_trials(deepcopy=False, states=(STATE.COMPLETE,))) >= k:
            study.stop()

    t0 = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        study.optimize(Objective(rec, cands, _STATE["table"]), n_trials=60 * k + 200,
                       callbacks=[stop], catch=(), gc_after_trial=False)
    done = sorted(study.get_trials(deepcopy=False, states=(STATE.COMPLETE,)),
                  key=lambda t: t.number)[:k]
    infeasible = sum(1 for t in study.trials if t.user_attrs.get("status") == "infeasible")
    return (label, [float(t.value) for t in done],
            [float(t.user_attrs["metrics"]["mean_accuracy"]) for t in done], infeasible,
            time.perf_counter() - t0)


def incumbent_curve(noisy: Sequence[float], true: Sequence[float], k: int) -> np.ndarray:
    """True accuracy of the best-by-noisy-score sample after 1..k samples (padded at the end
    when a strategy ran out of candidates)."""
    out, best_noisy, best_true = [], -math.inf, math.nan
    for s, a in zip(noisy, true):
        if s > best_noisy:
            best_noisy, best_true = s, a
        out.append(best_true)
    out += [out[-1] if out else math.nan] * (k - len(out))
    return np.array(out[:k])


def split_strategies(text: str) -> list[str]:
    """``"entropy,bo:model=rf,n_startup=5,tpe"`` -> ["entropy", "bo:model=rf,n_startup=5",
    "tpe"]: an item with ``=`` but no ``:`` is one more parameter of the strategy before it."""
    specs: list[str] = []
    for item in (s.strip() for s in text.split(",")):
        if not item:
            continue
        if "=" in item and ":" not in item and specs and ":" in specs[-1]:
            specs[-1] += "," + item
        else:
            specs.append(item)
    return specs


def parse_strategy(spec: str) -> tuple[str, dict[str, Any]]:
    """``"bo:model=rf,n_startup=5"`` -> ("bo", {"model": "rf", "n_startup": 5})."""
    name, _, rest = spec.partition(":")
    params: dict[str, Any] = {}
    for item in filter(None, rest.split(",")):
        key, _, value = item.partition("=")
        try:
            params[key] = int(value) if value.lstrip("-").isdigit() else float(value)
        except ValueError:
            params[key] = value
    return name, params


def bench_strategies(record: RunRecord, table: str, strategies: Sequence[str], *,
                     reps: int = 100, k: int = 100, jobs: int = 1,
                     params: dict[str, dict[str, Any]] | None = None,
                     progress: Callable[[str], None] | None = None) -> BenchResult:
    """Run every strategy ``reps`` times for ``k`` samples on the table; see module doc."""
    from ..reduce import reduce_space
    from ..sampling.candidates import Candidates

    feasible, _ = reduce_space(record.space, record.target, record.costs)
    c = record.candidates
    cands = Candidates.build(feasible, n_clusters=c.n_clusters, output=c.output, pool=c.pool)
    ev = TableEvaluator(table, noisy=True)
    missing = [w for w in (cands.widths(cands.index_at(i)) for i in range(cands.n_candidates))
               if w not in ev.rows]
    if missing:
        from .table import TableError

        raise TableError(f"table {table!r} lacks {len(missing):,} of the {cands.n_candidates:,} "
                         f"members of X^f (e.g. {'-'.join(map(str, missing[0]))}); build it "
                         "with benchmarks/build_table.py for this space and budget")
    optimum = max(ev.rows[w]["score"] for w in (cands.widths(cands.index_at(i))
                                                for i in range(cands.n_candidates)))
    chosen: dict[str, tuple[str, dict[str, Any]]] = {}
    for spec in strategies:
        name, given = parse_strategy(spec)
        s = STRATEGIES.get(name)
        unknown = sorted(set(given) - set(s.defaults))
        if unknown:
            from .errors import SearchError

            raise SearchError(f"strategy {name!r} has no parameter(s) {unknown}; it takes "
                              f"{sorted(s.defaults) or 'none'}")
        chosen[spec] = (name, {**s.defaults, **given, **((params or {}).get(spec, {}))})
    work = [(spec, *chosen[spec], rep, k) for spec in strategies for rep in range(reps)]
    _setup(record, table, cands)
    results: dict[str, list[tuple[list[float], list[float], int, float]]] = {
        n: [] for n in strategies}
    if jobs > 1:
        import multiprocessing as mp

        ctx = mp.get_context("fork")
        with ctx.Pool(jobs) as pool:
            for i, (name, noisy, true, inf, secs) in enumerate(
                    pool.imap_unordered(run_one, work, chunksize=2), 1):
                results[name].append((noisy, true, inf, secs))
                if progress and (i % 25 == 0 or i == len(work)):
                    progress(f"[{i}/{len(work)}] repetitions done")
    else:
        for i, job in enumerate(work, 1):
            name, noisy, true, inf, secs = run_one(job)
            results[name].append((noisy, true, inf, secs))
            if progress and (i % 25 == 0 or i == len(work)):
                progress(f"[{i}/{len(work)}] repetitions done")
    res = BenchResult(record.space.name, record.target.name, record.costs.describe(),
                      feasible.size, float(optimum), k)
    for name in strategies:
        runs = results[name]
        curves = np.stack([incumbent_curve(n, t, k) for n, t, _, _ in runs])
        se = curves.std(0, ddof=1) / math.sqrt(len(runs)) if len(runs) > 1 else \
            np.zeros(k)
        res.curves.append(StrategyCurve(name, chosen[name][1], curves.mean(0), se, len(runs),
                                        float(np.mean([r[2] for r in runs])),
                                        float(np.mean([r[3] for r in runs]))))
    return res


__all__ = ["BenchResult", "StrategyCurve", "bench_strategies", "incumbent_curve"]
