"""The run record: everything that defines a search run, resolved, typed and stored by value.

Why: a run used to be re-derived on the way down (the space by name, the cost convention not at
all, training settings only in the process that trained), so ``export-best`` recounted with
other conventions and a resume could mix epochs. A :class:`RunRecord` is resolved once from the
user's settings, stored in ``run.json`` and in the study, and read back by every later step
(resume, ``report``, ``export-best``, ``export``). A resume whose record differs is refused with
the differing settings named (:meth:`RunRecord.differences`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Mapping

from .._core.errors import CorruptFileError
from ..cost.options import CostOptions
from ..space.base import ChainSpace
from ..targets.base import Target, fmt_bytes

RECORD_VERSION = 1

#: settings that may change between runs of one study (everything else is its identity)
CHANGEABLE = ("trials", "max_proposals", "storage", "space_source", "candidates_file")


@dataclass(frozen=True)
class Component:
    """A registered plug-in (a strategy or an evaluator) with its parameters."""

    name: str
    params: Mapping[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "params": dict(self.params)}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> "Component":
        return cls(str(data["name"]), dict(data.get("params") or {}))

    def describe(self) -> str:
        extra = ", ".join(f"{k}={v}" for k, v in sorted(self.params.items()))
        return f"{self.name}({extra})" if extra else self.name


@dataclass(frozen=True)
class TrainSettings:
    """How candidates are trained: data set, epochs (None: the paper's per backbone) and the
    training options (batch size, learning rate, ...; keys of ``entronas.train.train``)."""

    dataset: str = "digits"
    epochs: int | None = None
    options: Mapping[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {"dataset": self.dataset, "epochs": self.epochs, "options": dict(self.options)}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> "TrainSettings":
        return cls(str(data.get("dataset", "digits")), data.get("epochs"),
                   dict(data.get("options") or {}))


@dataclass(frozen=True)
class CandidateSettings:
    """How X^f is turned into candidates: entropy output (Eq. 6), k-means clusters and, for a
    counted set, the uniform pool the clusters are fitted on."""

    n_clusters: int = 100
    output: str = "network"
    pool: int = 200_000

    def to_dict(self) -> dict[str, Any]:
        return {"n_clusters": self.n_clusters, "output": self.output, "pool": self.pool}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> "CandidateSettings":
        return cls(int(data.get("n_clusters", 100)), str(data.get("output", "network")),
                   int(data.get("pool", 200_000)))


@dataclass(frozen=True)
class RunRecord:
    """One search run, resolved: what to search, for which target, counted how, searched how,
    evaluated how, and how long. ``study`` names the Optuna study; ``storage`` is the storage
    URL given by the user (None: the run directory's own journal)."""

    space: ChainSpace
    target: Target
    costs: CostOptions
    strategy: Component
    evaluator: Component
    training: TrainSettings
    candidates: CandidateSettings
    trials: int
    seed: int
    study: str
    duplicates: str = "reuse"
    max_proposals: int | None = None
    storage: str | None = None
    space_source: str = ""
    references: tuple[str, ...] = ()
    candidates_file: str = ""   # a `reduce --out` file the candidates were loaded from

    def to_dict(self) -> dict[str, Any]:
        return {"version": RECORD_VERSION, "space": self.space.to_dict(),
                "space_source": self.space_source, "target": self.target.to_dict(),
                "costs": self.costs.to_dict(), "strategy": self.strategy.to_dict(),
                "evaluator": self.evaluator.to_dict(), "training": self.training.to_dict(),
                "candidates": self.candidates.to_dict(), "trials": self.trials,
                "seed": self.seed, "study": self.study, "duplicates": self.duplicates,
                "max_proposals": self.max_proposals, "storage": self.storage,
                "references": list(self.references), "candidates_file": self.candidates_file}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], source: str = "run record") -> "RunRecord":
        try:
            if int(data.get("version", 0)) != RECORD_VERSION:
                raise ValueError(f"record version {data.get('version')!r}, this entronas "
                                 f"reads {RECORD_VERSION}")
            return cls(
                space=ChainSpace.from_dict(data["space"]),
                target=Target.from_dict(data["target"]),
                costs=CostOptions.from_dict(data["costs"]),
                strategy=Component.from_dict(data["strategy"]),
                evaluator=Component.from_dict(data["evaluator"]),
                training=TrainSettings.from_dict(data["training"]),
                candidates=CandidateSettings.from_dict(data["candidates"]),
                trials=int(data["trials"]), seed=int(data["seed"]), study=str(data["study"]),
                duplicates=str(data.get("duplicates", "reuse")),
                max_proposals=data.get("max_proposals"), storage=data.get("storage"),
                space_source=str(data.get("space_source", "")),
                references=tuple(data.get("references") or ()),
                candidates_file=str(data.get("candidates_file", "")))
        except (KeyError, TypeError, ValueError) as exc:
            raise CorruptFileError(f"{source} is not a valid entronas run record "
                                   f"({type(exc).__name__}: {exc}); it was written by another "
                                   "entronas version or damaged") from None

    # ------------------------------------------------------------------ identity
    def settings(self) -> dict[str, Any]:
        """The identity settings, flattened to user-facing names (what a resume compares)."""
        t = self.target
        out: dict[str, Any] = {
            "space": self.space.name, "costs": self.costs.describe(),
            "target": t.name, "rom": t.rom, "ram": t.ram, "flops": t.flops,
            "rom_reserve": t.rom_reserve, "ram_reserve": t.ram_reserve,
            "strategy": self.strategy.name, "evaluator": self.evaluator.name,
            "dataset": self.training.dataset, "epochs": self.training.epochs,
            "seed": self.seed, "duplicates": self.duplicates, "study": self.study,
            "n_clusters": self.candidates.n_clusters, "output": self.candidates.output,
            "pool": self.candidates.pool,
        }
        for k, v in self.strategy.params.items():
            out[f"{k}"] = v
        for k, v in self.evaluator.params.items():
            out[f"evaluator {k}"] = v
        for k, v in self.training.options.items():
            out[f"train {k}"] = v
        space = self.space.to_dict()
        for k, v in space.items():
            if k != "name":
                out.update(_flatten(f"space {k}", v))
        return out

    def differences(self, other: "RunRecord") -> list[str]:
        """``"epochs 30 -> 5"`` for every identity setting in which ``other`` differs."""
        mine, theirs = self.settings(), other.settings()
        out = []
        for key in sorted(set(mine) | set(theirs), key=_order):
            a, b = mine.get(key), theirs.get(key)
            if a != b:
                out.append(f"{key} {_show(key, a)} -> {_show(key, b)}")
        return out


def _flatten(key: str, value: Any) -> dict[str, Any]:
    """Nested tables as one setting per leaf (``space options blocks[2] expansion``), so a
    difference names the entry and key that changed; lists of plain values stay whole."""
    if isinstance(value, dict):
        out: dict[str, Any] = {}
        for k, v in value.items():
            out.update(_flatten(f"{key} {k}", v))
        return out
    if isinstance(value, list) and value and all(isinstance(v, dict) for v in value):
        out = {}
        for j, v in enumerate(value):
            out.update(_flatten(f"{key}[{j + 1}]", v))
        return out
    return {key: value}


_FIRST = ("space", "costs", "target", "rom", "ram", "flops", "rom_reserve", "ram_reserve",
          "strategy", "evaluator", "dataset", "epochs", "seed")


def _order(key: str) -> tuple[int, str]:
    return (_FIRST.index(key) if key in _FIRST else len(_FIRST), key)


def _show(key: str, v: Any) -> str:
    if v is None:
        return "none"
    if key in ("rom", "ram", "rom_reserve", "ram_reserve") and isinstance(v, int):
        return fmt_bytes(v)
    return str(v)


__all__ = ["CHANGEABLE", "CandidateSettings", "Component", "RECORD_VERSION", "RunRecord",
           "TrainSettings"]
