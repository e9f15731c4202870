"""The best (or any) trained trial of a run as an arch file + resources, under the run's own
record: its space by value, its cost convention, its target with reserves, its data set.

Why here: ``search`` writes ``best/`` when it ends and ``export-best`` rewrites it later; both
must count exactly as the run counted (an int8 run's best is counted in int8, with the run's
reserves), so both read the record, never defaults.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ..cost.model import estimate
from ..runs.archrecord import ArchRecord
from ..runs.record import RunRecord
from ..runs.rundir import RunDir
from .errors import SearchError


def resources(record: RunRecord, widths: tuple[int, ...], attrs: dict[str, Any] | None = None
              ) -> dict[str, Any]:
    """ROM/RAM/FLOPs of ``widths`` under the run's convention, against the run's target."""
    t = record.target
    c = estimate(record.space, widths, record.costs)
    over = t.exceeds(c.rom, c.ram, c.flops)
    a = attrs or {}
    return {"rom": c.rom, "ram": c.ram, "flops": c.flops, "weights": c.weights,
            "costs": record.costs.describe(), "options": record.costs.to_dict(),
            "target": t.to_dict(), "fits": all(v is None for v in over.values()),
            "exceeds": {k: v for k, v in over.items() if v is not None},
            "headroom": {k: (None if t.available(k) is None else t.available(k) - getattr(c, k))
                         for k in ("rom", "ram", "flops")},
            "entropy": a.get("entropy"), "cluster": a.get("cluster"),
            "per_layer": [dict(layer) for layer in c.per_layer]}


def export_trial(run_dir: RunDir, record: RunRecord, trial: Any, *,
                 out: str | Path | None = None) -> Path:
    """Write ``arch.json`` + ``resources.json`` (+ the trial's ``model.pt``) of a FrozenTrial."""
    a = trial.user_attrs
    widths = tuple(int(w) for w in a["widths"])
    arch = ArchRecord(record.space, widths, dataset=record.training.dataset,
                      costs=record.costs, target=record.target,
                      metrics=dict(a.get("metrics", {})), trial=trial.number,
                      score=trial.value, seed=a.get("seed"))
    return run_dir.write_best(arch, resources(record, widths, a),
                              out=None if out is None else Path(out))


def export_best(run_dir: str | Path, *, trial: int | None = None,
                out: str | Path | None = None) -> Path:
    """Export the best (or trial number ``trial``) of a run directory."""
    from .adapters import STATE
    from .adapters.study import open_run_study

    rd = RunDir(run_dir)
    study, info = open_run_study(rd)
    done = study.get_trials(deepcopy=False, states=(STATE.COMPLETE,))
    if trial is None:
        if not done:
            raise SearchError(f"run {str(run_dir)!r} has no trained trial yet")
        chosen = max(done, key=lambda t: t.value)
    else:
        match = [t for t in done if t.number == trial]
        if not match:
            raise SearchError(f"run {str(run_dir)!r} has no trained trial #{trial}")
        chosen = match[0]
    if out is None and trial is not None:
        out = rd.path / "export" / f"trial-{chosen.number}"
    return export_trial(rd, info.record, chosen, out=out)
