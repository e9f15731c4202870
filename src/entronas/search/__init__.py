"""Search over X^f with Optuna: entropy sampling, random and TPE baselines, resumable runs.

Needs the ``search`` extra (optuna); never imports torch: the training evaluator registers
itself from ``entronas.train`` (the ``train`` entry of :data:`EVALUATORS`).

Rooms: ``config`` (the user's settings -> the run record), ``pipeline`` (the run's steps),
``adapters/`` (everything that touches Optuna: samplers, strategies, objective, storage,
study), ``evaluators`` and ``table`` (how candidates get scores), ``best`` (a trial as an arch
file), ``results`` (a run read back), ``params`` (the parameter-naming contract).

Public API (imported lazily so ``import entronas.search`` is cheap):
"""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS = {
    "suggest_arch": "params", "arch_from_params": "params", "params_of": "params",
    "EntropySampler": "adapters", "FeasibleRandomSampler": "adapters",
    "STRATEGIES": "adapters", "Strategy": "adapters",
    "Objective": "adapters.objective", "open_storage": "adapters.storage",
    "SearchConfig": "config", "load_config": "config", "DEFAULT_JOB": "config",
    "run_search": "pipeline", "SearchResult": "pipeline", "prepare_candidates": "pipeline",
    "EVALUATORS": "evaluators", "make_evaluator": "evaluators",
    "TableEvaluator": "table", "TableError": "table", "write_table": "table",
    "load_run": "results", "RunData": "results",
    "export_best": "best", "export_trial": "best",
    "SearchError": "errors", "StudyMismatchError": "errors",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        return getattr(importlib.import_module(f"{__name__}.{_EXPORTS[name]}"), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
