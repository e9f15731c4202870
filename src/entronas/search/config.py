"""The user's settings of a search (CLI flags and experiment YAML keys) and their resolution.

:class:`SearchConfig` is what a user writes: flat, strings allowed (``rom="256KiB"``, a space
name or a space-file path). :meth:`SearchConfig.resolve` turns it into the typed
:class:`~entronas.runs.RunRecord` through the same resolvers every command uses (space, target,
cost convention, strategy and evaluator registries), validating every setting before any work
starts. Defaults live here only; the CLI passes what the user gave.
"""

from __future__ import annotations

import os
import re
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any, Mapping

from .._core.errors import InvalidParameterError
from .._core.fileio import read_mapping
from .._core.validation import check_number
from ..cost.conventions import resolve_costs
from ..sampling.surrogate import DEFAULT_MODEL, DEFAULT_N_STARTUP, DEFAULT_START
from ..runs.record import CandidateSettings, Component, RunRecord, TrainSettings
from ..space.config import resolve_space
from ..targets.resolve import resolve_target
from .errors import SearchError

#: the default job: a real, small, offline search (``entronas search`` with no arguments).
#: The budgets are the network's share of the STM32G071 (its reserves are not subtracted
#: again): ROM and RAM both bind under the deployed (tflm) convention.
DEFAULT_JOB = {"space": "mlp-digits", "target": "stm32g071", "rom": "48KiB", "ram": "2304B",
               "rom_reserve": 0, "ram_reserve": 0}

#: config-file keys that describe a batch of runs, not one run
BATCH_KEYS = ("name", "description", "strategies", "seeds")
#: keys of the ``train:`` mapping (options of the training evaluator, entronas.train)
TRAIN_OPTIONS = ("batch_size", "lr", "amp", "deterministic", "max_device_bytes")


@dataclass
class SearchConfig:
    """Everything a user sets for a search run (CLI flags and experiment YAML keys alike).

    ``space=None`` / ``target=None`` are the default job's space and target with its budgets
    (:data:`DEFAULT_JOB`); a named target uses its own budgets unless ``rom``/``ram``/``flops``
    are given. ``candidates`` (a ``reduce --out`` file) fixes space, target and costs to the
    file's own, so every worker searches exactly what was reduced.
    """

    space: str | None = None
    target: str | None = None
    rom: Any = None
    ram: Any = None
    flops: Any = None
    rom_reserve: Any = None
    ram_reserve: Any = None
    costs: str | None = None
    dtype: str | None = None
    bias: bool | None = None
    ram_model: str | None = None
    dataset: str = "digits"
    strategy: str = "entropy"
    p: float = 0.5
    encoding: str = "categorical"  # TPE: widths as categorical choices (the paper) or ints
    cost: str = "macs"             # greedy: macs | params | entropy, largest first
    model: str = DEFAULT_MODEL     # bo: the surrogate (lin | tpe | rf | gp)
    n_startup: int = DEFAULT_N_STARTUP  # bo: start-up trials before the surrogate
    startup: str = DEFAULT_START   # bo: greedy (most MACs first) | entropy start-up draws
    n_clusters: int = 100
    output: str = "network"
    pool: int = 200_000
    evaluator: str = "train"
    table_missing: str = "error"
    epochs: int | None = 30
    train: dict[str, Any] = field(default_factory=dict)
    trials: int = 20
    seed: int = 0
    storage: str | None = None
    study: str | None = None
    run_dir: str | None = None
    duplicates: str = "reuse"      # reuse | retrain: an already trained candidate proposed again
    max_proposals: int | None = None
    space_overrides: dict[str, Any] = field(default_factory=dict)
    references: list[str] = field(default_factory=list)   # 'NAME:SCORE:ROM:RAM:FLOPS'
    candidates: str | None = None  # a feasible-set file of `entronas reduce --out`

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> "SearchConfig":
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(data) - known - set(BATCH_KEYS))
        if unknown:
            raise InvalidParameterError(f"unknown search setting(s) {unknown}; known: "
                                        f"{sorted(known)}")
        return cls(**{k: v for k, v in data.items() if k in known})

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    # ------------------------------------------------------------------ resolution
    def _budgets(self, file_target: Any = None) -> tuple[str | None, dict[str, Any]]:
        if self.target is None and file_target is not None:
            target, budgets = None, {}
        elif self.target is None:
            job = dict(DEFAULT_JOB)
            budgets = {k: job[k] for k in ("rom", "ram", "rom_reserve", "ram_reserve")}
            target = str(job["target"])
        else:
            target, budgets = str(self.target), {}
        for key in ("rom", "ram", "flops", "rom_reserve", "ram_reserve"):
            v = getattr(self, key)
            if v is not None:
                budgets[key] = v
        return target, budgets

    def study_name(self) -> str:
        if self.study:
            return self.study
        target, budgets = self._budgets()
        shown = "-".join(str(budgets[k]).replace(" ", "") for k in ("rom", "ram", "flops")
                         if budgets.get(k) is not None)
        space = Path(self.space or str(DEFAULT_JOB["space"])).stem
        name = (f"{space}-{target}{'-' + shown if shown else ''}-"
                f"{self.strategy}-s{self.seed}")
        return re.sub(r"[^A-Za-z0-9_.+-]", "_", name)

    def resolved_run_dir(self) -> Path:
        return Path(self.run_dir) if self.run_dir else Path("runs") / self.study_name()

    def resolve(self) -> RunRecord:
        """The run record; every bad setting is one line naming it, before any work."""
        from .adapters import STRATEGIES
        from .evaluators import evaluator_component

        check_number(self.trials, "trials", "entronas search", lo=1, integer=True,
                     fix="Use -k/--trials N with N >= 1.")
        check_number(self.seed, "seed", "entronas search", lo=0, hi=2**32 - 1, integer=True,
                     fix="Use a seed in 0..4294967295.")
        if self.epochs is not None:
            check_number(self.epochs, "epochs", "entronas search", lo=1, integer=True,
                         fix="Use --epochs N with N >= 1.")
        check_number(self.n_clusters, "n_clusters", "entronas search", lo=1, integer=True,
                     fix="Use --n-clusters K with K >= 1.")
        check_number(self.pool, "pool", "entronas search", lo=1, integer=True)
        check_number(self.p, "p", "entronas search", lo=0, hi=1, closed="right",
                     fix="Use e.g. --p 0.5 as in the paper.")
        check_number(self.n_startup, "n_startup", "entronas search", lo=1, integer=True,
                     fix="Use --n-startup N with N >= 1.")
        if self.max_proposals is not None:
            check_number(self.max_proposals, "max_proposals", "entronas search", lo=1,
                         integer=True)
        if self.duplicates not in ("reuse", "retrain"):
            raise SearchError(f"duplicates must be 'reuse' or 'retrain', got "
                              f"{self.duplicates!r}")
        unknown = sorted(set(self.train or {}) - set(TRAIN_OPTIONS))
        if unknown:
            raise SearchError(f"unknown train option(s) {unknown}; known: "
                              f"{', '.join(TRAIN_OPTIONS)}")
        from .params import ENCODINGS

        if self.encoding not in ENCODINGS:
            raise SearchError(f"--encoding must be one of {', '.join(ENCODINGS)}, got "
                              f"{self.encoding!r}")
        from ..sampling.surrogate import MODELS, STARTS

        for name, value, allowed in (("model", self.model, MODELS),
                                     ("startup", self.startup, STARTS)):
            if value not in allowed:
                raise SearchError(f"--{name} must be one of {', '.join(allowed)}, got "
                                  f"{value!r}")
        if self.output not in ("network", "last_searched"):
            raise SearchError(f"output must be 'network' or 'last_searched', got "
                              f"{self.output!r}")
        strategy = STRATEGIES.get(self.strategy)
        if self.candidates:
            space, target, costs = self._from_candidates()
        else:
            space, file_target = resolve_space(self.space or str(DEFAULT_JOB["space"]),
                                               overrides=self.space_overrides)
            target_name, budgets = self._budgets(file_target)
            target = resolve_target(target_name, file_target, **budgets)
            costs = resolve_costs(self.costs, target=target, dtype=self.dtype, bias=self.bias,
                                  ram_model=self.ram_model)
        if strategy.name == "tpe":
            from .params import check_encoding

            check_encoding(space, self.encoding)
        return RunRecord(
            space=space, target=target, costs=costs,
            strategy=Component(strategy.name, strategy.params(self)),
            evaluator=evaluator_component(self.evaluator, missing=self.table_missing),
            training=TrainSettings(self.dataset, self.epochs, dict(self.train or {})),
            candidates=CandidateSettings(int(self.n_clusters), self.output, int(self.pool)),
            trials=int(self.trials), seed=int(self.seed), study=self.study_name(),
            duplicates=self.duplicates, max_proposals=self.max_proposals,
            storage=self.storage, space_source=str(self.space or self.candidates or
                                                    DEFAULT_JOB["space"]),
            references=tuple(self.references or ()),
            candidates_file=os.path.abspath(self.candidates) if self.candidates else "")

    def _from_candidates(self) -> tuple[Any, Any, Any]:
        """Space, target and costs of a ``reduce --out`` file; flags that would change them
        are refused, naming them."""
        from ..sampling.candidates import Candidates

        clash = [f"--{k.replace('_', '-')}" for k in
                 ("space", "target", "rom", "ram", "flops", "rom_reserve", "ram_reserve",
                  "costs", "dtype", "bias", "ram_model") if getattr(self, k) is not None]
        if clash or self.space_overrides:
            raise SearchError(f"--candidates {self.candidates} fixes the space, target and "
                              f"costs it was reduced for; drop {', '.join(clash) or 'them'}")
        return Candidates.definition(self.candidates)


def load_config(path: str | os.PathLike) -> dict[str, Any]:
    """Read an experiment YAML file (keys of :class:`SearchConfig`)."""
    return read_mapping(path, label="config file", error=SearchError)


__all__ = ["BATCH_KEYS", "DEFAULT_JOB", "SearchConfig", "load_config"]
