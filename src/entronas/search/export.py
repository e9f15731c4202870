"""Export a trial of a run: ``arch.json``, ``resources.json`` and its saved artifacts.

PyTorch files (state dict, ONNX) are written by the layer that trained the model into
``<run_dir>/trials/<number>/``; exporting copies them next to the JSON files, so this module
never imports torch.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from .._core.arch import Arch
from .._core.fileio import atomic_write, atomic_write_json
from ..cost.model import estimate
from .errors import SearchError


def export_trial(run_dir: str | Path, trial: Any, space: Any, target: Any, options: Any, *,
                 out: str | Path | None = None) -> Path:
    """Write arch.json + resources.json (+ copies of trials/<n>/*) for a FrozenTrial."""
    run_dir = Path(run_dir)
    out = Path(out) if out is not None else run_dir / "best"
    a = trial.user_attrs
    arch = Arch(space.name, tuple(a["widths"]))
    costs = estimate(space, arch, options)
    atomic_write_json(out / "arch.json", {
        **arch.to_dict(), "key": arch.key(), "trial": trial.number, "score": trial.value,
        "metrics": a.get("metrics", {}), "seed": a.get("seed"),
        "space_definition": space.to_dict()})
    atomic_write_json(out / "resources.json", {
        "rom": costs.rom, "ram": costs.ram, "flops": costs.flops, "weights": costs.weights,
        "target": target.to_dict(),
        "fits": bool(target.fits(costs.rom, costs.ram, costs.flops)),
        "headroom": {k: (None if getattr(target, k) is None
                         else getattr(target, k) - getattr(costs, k))
                     for k in ("rom", "ram", "flops")},
        "entropy": a.get("entropy"), "cluster": a.get("cluster"),
        "per_layer": [dict(layer) for layer in costs.per_layer],
        "options": options.to_dict()})
    src = run_dir / "trials" / str(trial.number)
    if src.is_dir():
        for f in src.iterdir():
            if f.is_file():
                atomic_write(out / f.name, f.read_bytes())
    return out


def export_best(run_dir: str | Path, *, trial: int | None = None,
                out: str | Path | None = None) -> Path:
    """Export the best (or trial number ``trial``) of a run directory."""
    from ..cost.options import CostOptions
    from ..targets.base import Target
    from .config import SearchConfig
    from .results import open_study
    from .samplers import optuna

    study, info = open_study(run_dir)
    done = study.get_trials(deepcopy=False, states=(optuna.trial.TrialState.COMPLETE,))
    if trial is None:
        if not done:
            raise SearchError(f"run {str(run_dir)!r} has no trained trial yet")
        chosen = max(done, key=lambda t: t.value)
    else:
        match = [t for t in done if t.number == trial]
        if not match:
            raise SearchError(f"run {str(run_dir)!r} has no trained trial #{trial}")
        chosen = match[0]

    cfg = SearchConfig.from_dict(info.get("config") or {"space": info["space"]})
    if out is None:
        out = Path(run_dir) / ("best" if trial is None else f"export/trial-{chosen.number}")
    return export_trial(run_dir, chosen, cfg.make_space(), Target.from_dict(info["target"]),
                        CostOptions(), out=out)
