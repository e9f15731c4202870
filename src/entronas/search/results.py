"""Read a run back from its Optuna storage: trials, best, samples-vs-score curves.

Reports and exports read storage through here; there is no parallel history file.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..runs.rundir import RunDir
from .adapters import STATE


@dataclass
class TrialRecord:
    number: int
    state: str
    status: str
    score: float | None
    widths: tuple[int, ...]
    rom: int | None
    ram: int | None
    flops: int | None
    entropy: float | None
    cluster: int | None
    index: int | None
    train_seconds: float
    start: float | None
    end: float | None
    metrics: dict[str, Any] = field(default_factory=dict)
    retry_of: int | None = None


@dataclass
class RunData:
    """One study: its configuration and its trials in trial-number order."""

    run_dir: Path | None
    study_name: str
    strategy: str
    space: str
    target: dict[str, Any]
    seed: int | None
    trials: list[TrialRecord]
    info: dict[str, Any] = field(default_factory=dict)

    @property
    def trained(self) -> list[TrialRecord]:
        """Trained samples (COMPLETE), in completion order: the paper's k axis."""
        done = [t for t in self.trials if t.state == "COMPLETE"]
        return sorted(done, key=lambda t: (t.end or 0.0, t.number))

    @property
    def infeasible(self) -> int:
        return sum(1 for t in self.trials if t.status == "infeasible")

    @property
    def duplicates(self) -> int:
        """Trained samples whose architecture an earlier trained sample already had."""
        seen: set[tuple[int, ...]] = set()
        dup = 0
        for t in self.trained:
            if t.widths in seen:
                dup += 1
            seen.add(t.widths)
        return dup

    @property
    def failed(self) -> int:
        return sum(1 for t in self.trials if t.state == "FAIL")

    @property
    def best(self) -> TrialRecord | None:
        done = [t for t in self.trained if t.score is not None and not math.isnan(t.score)]
        return max(done, key=lambda t: t.score) if done else None

    def best_after_k(self) -> list[float]:
        """Best score after k = 1, 2, ... trained samples."""
        out, best = [], -math.inf
        for t in self.trained:
            best = max(best, t.score if t.score is not None else -math.inf)
            out.append(best)
        return out

    def best_over_time(self) -> tuple[list[float], list[float]]:
        """(cumulative training seconds, best score) after each trained sample."""
        xs, ys, total, best = [], [], 0.0, -math.inf
        for t in self.trained:
            total += t.train_seconds
            best = max(best, t.score if t.score is not None else -math.inf)
            xs.append(total)
            ys.append(best)
        return xs, ys

    def counts(self) -> dict[str, int]:
        return {"trained": len(self.trained), "infeasible": self.infeasible,
                "duplicates": self.duplicates, "failed": self.failed,
                "duplicate_proposals": sum(1 for t in self.trials if t.status == "duplicate"),
                "pruned": sum(1 for t in self.trials if t.state == "PRUNED"),
                "total": len(self.trials)}


def _record(t: Any) -> TrialRecord:
    a = t.user_attrs
    return TrialRecord(
        number=t.number, state=t.state.name, status=str(a.get("status", t.state.name.lower())),
        score=t.value if t.state == STATE.COMPLETE else None,
        widths=tuple(int(w) for w in a.get("widths", [])),
        rom=a.get("rom"), ram=a.get("ram"), flops=a.get("flops"), entropy=a.get("entropy"),
        cluster=a.get("cluster"), index=a.get("index"),
        train_seconds=float(a.get("train_seconds", 0.0) or 0.0),
        start=t.datetime_start.timestamp() if t.datetime_start else None,
        end=t.datetime_complete.timestamp() if t.datetime_complete else None,
        metrics=dict(a.get("metrics", {})), retry_of=a.get("retry_of"))


def load_run(run_dir: str | Path) -> RunData:
    """A run directory's study and record, read from any working directory."""
    from .adapters.study import open_run_study

    rd = RunDir(run_dir)
    study, info = open_run_study(rd)
    return run_data(study, run_dir=rd.path, info={"record": info.record,
                                                   "deployment": rd.read_deployment()})


def run_data(study: Any, *, run_dir: Path | None = None, info: dict[str, Any] | None = None
             ) -> RunData:
    ua = study.user_attrs
    trials = [_record(t) for t in study.get_trials(deepcopy=False)]
    return RunData(run_dir=run_dir, study_name=study.study_name,
                   strategy=str(ua.get("entronas:strategy", "?")),
                   space=str(ua.get("entronas:space", "?")),
                   target=dict(ua.get("entronas:target", {})), seed=ua.get("entronas:seed"),
                   trials=trials, info=dict(info or {}))
