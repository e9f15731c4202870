"""What defines a search run: :class:`SearchConfig` (CLI flags and experiment YAML keys alike)."""

from __future__ import annotations

import os
import re
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any, Mapping

from .._core.errors import InvalidParameterError
from .._core.fileio import read_mapping
from ..space import get_space
from ..targets import get_target
from .errors import SearchError

STRATEGIES = ("entropy", "random", "tpe")


@dataclass
class SearchConfig:
    """Everything that defines a search run (CLI flags and experiment YAML keys alike)."""

    space: str = "mlp-digits"
    target: str = "stm32g071"
    rom: Any = "24KiB"
    ram: Any = "640B"
    flops: Any = None
    dataset: str = "digits"
    strategy: str = "entropy"
    trials: int = 20
    epochs: int = 30
    seed: int = 0
    storage: str | None = None
    study: str | None = None
    run_dir: str | None = None
    evaluator: str = "train"
    n_clusters: int = 100
    p: float = 0.5
    output: str = "network"
    max_proposals: int | None = None
    duplicates: str = "reuse"      # reuse | retrain: an already trained candidate proposed again
    space_overrides: dict[str, Any] = field(default_factory=dict)
    train: dict[str, Any] = field(default_factory=dict)
    references: list[str] = field(default_factory=list)   # 'NAME:SCORE:ROM:RAM:FLOPS'

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> "SearchConfig":
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(data) - known - {"name", "description", "strategies", "seeds"})
        if unknown:
            raise InvalidParameterError(f"unknown search config keys {unknown}; known: "
                                        f"{sorted(known)}")
        return cls(**{k: v for k, v in data.items() if k in known})

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def check(self) -> "SearchConfig":
        if self.strategy not in STRATEGIES:
            import difflib

            hint = difflib.get_close_matches(str(self.strategy), STRATEGIES, n=1)
            raise SearchError(f"unknown strategy {self.strategy!r}; "
                              + (f"did you mean {hint[0]!r}? " if hint else "")
                              + f"choose one of: {', '.join(STRATEGIES)}")
        if self.duplicates not in ("reuse", "retrain"):
            raise SearchError(f"duplicates must be 'reuse' or 'retrain', got "
                              f"{self.duplicates!r}")
        if not isinstance(self.trials, int) or self.trials < 1:
            raise InvalidParameterError(f"trials must be a positive int, got {self.trials!r}")
        return self

    def make_target(self) -> Any:
        return get_target(self.target).with_budgets(rom=self.rom, ram=self.ram,
                                                    flops=self.flops)

    def make_space(self) -> Any:
        return get_space(self.space, **dict(self.space_overrides or {}))

    def study_name(self) -> str:
        if self.study:
            return self.study
        budgets = "-".join(str(v).replace(" ", "") for v in (self.rom, self.ram, self.flops)
                           if v is not None)
        name = f"{self.space}-{self.target}{'-' + budgets if budgets else ''}-{self.strategy}" \
               f"-s{self.seed}"
        return re.sub(r"[^A-Za-z0-9_.+-]", "_", name)

    def resolved_run_dir(self) -> Path:
        return Path(self.run_dir) if self.run_dir else Path("runs") / self.study_name()


def load_config(path: str | os.PathLike) -> dict[str, Any]:
    """Read an experiment YAML file (keys of :class:`SearchConfig`)."""
    return read_mapping(path, label="config file", error=SearchError)
