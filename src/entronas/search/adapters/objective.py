"""One objective for every strategy: suggest an architecture, check X^f, evaluate, record.

Protocol (the same for entropy, random and TPE):

* the architecture comes from :func:`entronas.search.params.suggest_arch` (names ``depth``,
  ``width_i``); the entropy/random samplers only ever hand out members of X^f;
* TPE samples the unconstrained box, so the objective checks membership in X^f (an exact tree
  lookup, microseconds) *before* training. An infeasible proposal is never trained: it is
  reported to Optuna as a PRUNED trial with user attr ``status="infeasible"`` and its relative
  budget excess as constraint values (``TPESampler(constraints_func=...)`` then learns to avoid
  it). Only trained candidates (state COMPLETE) count as samples k; infeasible proposals are
  counted separately in reports;
* every feasible candidate is claimed in the storage before training
  (:mod:`.claims`): an architecture that another trial trained or is training (TPE re-proposes
  good ones; two workers can pick one candidate) is not trained again when
  ``duplicates="reuse"`` (the default): the trial is PRUNED with ``status="duplicate"``, after
  reporting the earlier score as its intermediate value when there is one, so TPE still learns
  from it, and it is not a sample. ``duplicates="retrain"`` trains it again with a new seed
  (then it is a sample, counted as a duplicate in reports). With ``limit`` K, a trial that
  finds K trials trained or training below it is PRUNED with ``status="surplus"``, so N workers
  stop at K in total;
* an evaluator may return ``None`` for an architecture it has no result for (a tabular evaluator
  in ``missing="skip"`` mode): PRUNED with ``status="missing"``, not a sample;
* an evaluator exception marks the trial FAIL with ``status="error"`` and stops the worker (the
  CLI prints one line); a trial whose process died has no status yet and is retried.

User attributes of every trial: ``widths``, ``index`` (global index in X^f, -1 if infeasible),
``rom``, ``ram``, ``flops``, ``weights``, ``entropy``, ``cluster``, ``seed``, ``status``,
``worker``; of trained trials also ``metrics`` (scalar metrics) and ``train_seconds``.
"""

from __future__ import annotations

import math
import numbers
import time
from pathlib import Path
from typing import Any, Callable, Mapping

from ..._core.arch import Arch
from ..._core.rng import derive_seed
from ...cost.model import estimate
from ...runs.record import RunRecord
from ...sampling.candidates import Candidates
from ..params import suggest_arch, trial_encoding
from ._optuna import optuna
from .claims import claim_candidate
from .workers import ACTIVE, worker_id

Evaluate = Callable[[Arch, int], "Mapping[str, Any] | None"]
SaveArtifacts = Callable[[Path, Mapping[str, Any]], None]

def score_of(metrics: Mapping[str, Any]) -> float:
    for key in ("score", "accuracy", "auc"):
        if key in metrics and metrics[key] is not None:
            return float(metrics[key])
    raise KeyError("score")


def _scalar(v: Any) -> bool:
    return v is None or isinstance(v, (str, bool, numbers.Number))


def constraint_values(target: Any, desc: Mapping[str, Any]) -> list[float]:
    """Relative excess over what each budget leaves the network (<= 0: satisfied), as Optuna
    constraint values."""
    out = []
    for what in ("rom", "ram", "flops"):
        left = target.available(what)
        out.append(0.0 if left is None else desc[what] / max(left, 1) - 1.0)
    return out


def describe(record: RunRecord, candidates: Candidates, arch: Arch) -> dict[str, Any]:
    """Resources (under the run's convention), entropy and cluster of ``arch``, also for an
    architecture outside X^f (TPE proposals)."""
    costs = estimate(record.space, arch, record.costs)
    h = candidates.entropy_of_arch(arch.widths)
    return {"rom": int(costs.rom), "ram": int(costs.ram), "flops": int(costs.flops),
            "weights": int(costs.weights), "entropy": h,
            "cluster": candidates.cluster_of_entropy(h),
            "fits": bool(record.target.fits(costs.rom, costs.ram, costs.flops))}


def tpe_constraints(trial: Any) -> list[float]:
    """``constraints_func`` for ``TPESampler``: the values the objective stored."""
    return list(trial.user_attrs.get("constraints", [0.0, 0.0, 0.0]))


class Objective:
    """Callable objective ``objective(trial) -> score`` (maximised)."""

    def __init__(self, record: RunRecord, candidates: Candidates, evaluate: Evaluate, *,
                 trial_dir: Callable[[int], Path] | None = None,
                 save_artifacts: SaveArtifacts | None = None,
                 limit: int | None = None) -> None:
        self.record = record
        self.candidates = candidates
        self.duplicates = record.duplicates
        self.evaluate = evaluate
        self.seed = int(record.seed)
        self.trial_dir = trial_dir
        self.save_artifacts = save_artifacts
        self.limit = limit  # at most this many trained in the study (all workers)
        self._encoding = trial_encoding(record.space, record.strategy.params)

    def __call__(self, trial: Any) -> float:
        tagged = trial._trial_id in ACTIVE  # the sampler wrote the worker already
        ACTIVE.add(trial._trial_id)
        try:
            return self._run(trial, tagged)
        finally:
            ACTIVE.discard(trial._trial_id)

    def _run(self, trial: Any, tagged: bool) -> float:
        # every storage write costs a journal record and an fsync: only what is not known yet
        # (no status while running: recovery treats a missing status as "running")
        if not tagged:
            trial.set_user_attr("worker", worker_id())
        root = int(trial.user_attrs.get("root", trial.number))
        seed = derive_seed(self.seed, root)
        arch = suggest_arch(trial, self.record.space, self._encoding)
        index = self.candidates.index_of(arch)
        desc = describe(self.record, self.candidates, arch)
        attrs = {"widths": list(arch.widths), "index": -1 if index is None else index,
                 "seed": seed, **{k: desc[k] for k in ("rom", "ram", "flops", "weights",
                                                       "entropy", "cluster")},
                 "constraints": constraint_values(self.record.target, desc)}
        for k, v in attrs.items():
            trial.set_user_attr(k, v)
        if index is None:
            trial.set_user_attr("status", "infeasible")
            raise optuna.TrialPruned(f"{arch.key()} is not in X^f")
        claim = claim_candidate(trial, index, limit=self.limit,
                                exclusive=self.duplicates == "reuse")
        if claim.outcome == "surplus":
            trial.set_user_attr("status", "surplus")
            raise optuna.TrialPruned(f"{self.limit} candidates are trained or training")
        if claim.outcome in ("trained", "taken"):
            other = claim.other
            trial.set_user_attr("status", "duplicate")
            trial.set_user_attr("duplicate_of", other.number)
            if claim.outcome == "trained":
                trial.report(float(other.value), 0)
                raise optuna.TrialPruned(f"{arch.key()} was trained in trial #{other.number}")
            raise optuna.TrialPruned(f"{arch.key()} is being trained in trial #{other.number}")
        t0 = time.perf_counter()
        try:
            metrics = self.evaluate(arch, seed)
        except BaseException as exc:
            if isinstance(exc, Exception):
                trial.set_user_attr("status", "error")
                trial.set_user_attr("error", f"{type(exc).__name__}: {exc}"[:500])
            raise
        elapsed = time.perf_counter() - t0
        if metrics is None:
            trial.set_user_attr("status", "missing")
            raise optuna.TrialPruned(f"no result for {arch.key()}")
        scalars = {k: (float(v) if isinstance(v, numbers.Real) and not isinstance(v, bool)
                       else v) for k, v in metrics.items() if _scalar(v)}
        extra = {k: v for k, v in metrics.items() if not _scalar(v)}
        if extra and self.save_artifacts is not None and self.trial_dir is not None:
            self.save_artifacts(self.trial_dir(trial.number), extra)
        score = score_of(scalars)
        trial.set_user_attr("metrics", {k: v for k, v in scalars.items()
                                        if not (isinstance(v, float) and math.isnan(v))})
        trial.set_user_attr("train_seconds", float(scalars.get("train_seconds", elapsed)))
        trial.set_user_attr("eval_seconds", elapsed)
        if math.isnan(score):
            trial.set_user_attr("status", "error")
            trial.set_user_attr("error", "evaluator returned a NaN score")
            return score  # Optuna marks the trial FAIL
        trial.set_user_attr("status", "trained")
        return score
