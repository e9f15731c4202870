"""Evaluators by name: how a candidate gets its score (train it, or look it up in a table).

Why a registry: ``--evaluator train | table:FILE.csv`` used to be parsed where the CLI built
the objective; here each evaluator is one entry whose parameters are stored in the run record,
so a resume uses the same evaluator and ``report`` can say which one scored a run. The
training evaluator lives with the training code (``entronas.train``, which needs torch) and
registers itself when that module is imported; a lookup imports it on demand.
"""

from __future__ import annotations

import importlib
import os
from dataclasses import dataclass
from typing import Any, Callable, Mapping

from .._core.registry import Registry
from ..runs.record import Component, RunRecord
from .errors import SearchError

#: ``make(record, runtime) -> (evaluate(arch, seed) -> metrics, save_artifacts or None)``;
#: ``runtime`` holds per-process settings that are not part of the run (e.g. the device)
Factory = Callable[[RunRecord, Mapping[str, Any]], tuple[Any, Any]]


@dataclass(frozen=True)
class EvaluatorKind:
    name: str
    make: Factory
    summary: str = ""


EVALUATORS: Registry[EvaluatorKind] = Registry("evaluator")

#: evaluators registered by modules of higher layers, imported on first use
_PLUGINS = {"train": "entronas.train.evaluator"}


def get_evaluator(name: str) -> EvaluatorKind:
    if name not in EVALUATORS and name in _PLUGINS:
        from .._core.imports import require

        require("torch", "torch", "training candidates (or use --evaluator table:FILE.csv)")
        importlib.import_module(_PLUGINS[name])
    return EVALUATORS.get(name)


def evaluator_component(spec: str, *, missing: str = "error") -> Component:
    """``"train"`` or ``"table:FILE.csv"`` (the CLI form) -> the record's component."""
    spec = str(spec)
    if missing not in ("error", "skip"):
        raise SearchError(f"--table-missing must be 'error' or 'skip', got {missing!r}")
    if spec.startswith("table:"):
        path = spec[len("table:"):]
        if not path:
            raise SearchError("--evaluator table: needs a file, e.g. table:results.csv")
        return Component("table", {"path": os.path.abspath(path), "missing": missing})
    if spec in EVALUATORS or spec in _PLUGINS:
        return Component(spec, {})
    names = sorted(set(EVALUATORS.names()) | set(_PLUGINS))
    raise SearchError(f"unknown evaluator {spec!r}; use {' | '.join(names)} (table as "
                      "table:FILE.csv)")


def make_evaluator(record: RunRecord, **runtime: Any) -> tuple[Any, Any]:
    """(evaluate, save_artifacts) of the run's evaluator."""
    return get_evaluator(record.evaluator.name).make(record, runtime)


def _table(record: RunRecord, runtime: Mapping[str, Any]) -> tuple[Any, Any]:
    from .table import TableEvaluator

    p = record.evaluator.params
    return TableEvaluator(p["path"], missing=p.get("missing", "error")), None


EVALUATORS.register("table", EvaluatorKind("table", _table,
                                           "look scores up in a CSV table (no training)"))
