"""Search over X^f with Optuna: entropy sampling, random and TPE baselines, resumable runs.

Needs the ``search`` extra (optuna); never imports torch: the training function is handed in
as ``evaluate(arch, seed) -> metrics`` by the composition root (the CLI).

Public API (imported lazily so ``import entronas.search`` is cheap):

* :func:`suggest_arch`, :func:`arch_from_params`, :func:`params_of` — the parameter contract;
* :class:`EntropySampler`, :class:`FeasibleRandomSampler` — Optuna samplers over X^f;
* :func:`prepare` / :class:`PreparedSpace` — X^f + entropy clusters, cached per fingerprint;
* :class:`Objective` — the one objective of every strategy;
* :class:`SearchConfig`, :func:`run_search`, :func:`load_config` — runs;
* :class:`TableEvaluator` — tabular evaluation from a CSV;
* :func:`load_run`, :class:`RunData` — read a run back; :func:`export_best`.
"""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS = {
    "suggest_arch": "params", "arch_from_params": "params", "params_of": "params",
    "EntropySampler": "samplers", "FeasibleRandomSampler": "samplers",
    "prepare": "feasible", "PreparedSpace": "feasible",
    "Objective": "objective",
    "SearchConfig": "config", "load_config": "config", "STRATEGIES": "config",
    "run_search": "run", "SearchResult": "run", "open_storage": "storage",
    "TableEvaluator": "table", "TableError": "table", "write_table": "table",
    "load_run": "results", "RunData": "results",
    "export_best": "export", "export_trial": "export",
    "SearchError": "errors", "StudyMismatchError": "errors",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        return getattr(importlib.import_module(f"{__name__}.{_EXPORTS[name]}"), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
