"""Does it deploy? One network exported and measured in TFLM, next to its ``tflm`` estimate.

Why: "fits" is a claim about the MCU, so every export and ``search --measure`` print what was
measured (the written flatbuffer, TFLM's smallest working arena found by bisection in child
processes) beside the estimate the reduction used, against the target's budgets minus its
reserves, with one FITS / DOES NOT FIT verdict that comes from the measurement.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..cost.conventions import costs as cost_convention
from ..cost.model import estimate
from ..targets.base import Target


def calibration_for(space: Any, dataset: str | None, n: int = 128, seed: int = 0
                    ) -> tuple[np.ndarray, str]:
    """int8 calibration inputs: the recorded data set's training samples, else random ones
    (and the note says which)."""
    from .._core.errors import EntronasError
    from .report import calibration_inputs

    if dataset:
        try:
            from .data import dataset_arrays

            x = dataset_arrays(space, dataset, n_train=n)["x_train"]
            return x, f"{len(x)} {dataset} training samples"
        except (EntronasError, ValueError, ImportError) as exc:
            note = f"random normal inputs (data set {dataset!r} unavailable: {exc})"
            return calibration_inputs(space, n, seed), note
    return calibration_inputs(space, 64, seed), f"random normal inputs (seed {seed})"


def verdict(target: Target | None, rom: int, ram: int) -> tuple[bool | None, str]:
    """(fits, text) of measured bytes against the budgets minus the reserves."""
    if target is None:
        return None, "no target to check against (pass --target)"
    return target.verdict(rom, ram)


def deploy_report(arch: Any, *, record: Any = None, dtype: str | None = None,
                  target: Target | None = None, calibration: np.ndarray | None = None,
                  bisect: bool = True, seed: int = 0) -> dict[str, Any]:
    """Export ``arch`` (an :class:`~entronas.runs.ArchRecord`) and measure it in TFLM.

    ``dtype``: default the convention the network was chosen with (its record), else int8.
    ``target``: default the recorded one. The report's ``lines`` print estimate vs measured.
    """
    from .report import measure

    opts = arch.costs or (record.costs if record is not None else None)
    dtype = dtype or (opts.dtype if opts is not None and opts.dtype != "custom" else "int8")
    target = target or arch.target or (record.target if record is not None else None)
    note = "given calibration inputs"
    if dtype == "int8" and calibration is None:
        dataset = arch.dataset or (record.training.dataset if record is not None else None)
        calibration, note = calibration_for(arch.space, dataset, seed=seed)
    tflm = cost_convention("tflm", dtype)
    est = estimate(arch.space, arch.widths, tflm)
    rep = measure(arch.space, arch.widths, arch.state_dict_path(), dtype,
                  calibration=calibration, bisect=bisect, seed=seed, check_numerics=False)
    rep.pop("_model", None)
    m = rep["measured"]
    arena = m.get("min_arena") or m["recorded_total"]
    fits, text = verdict(target, m["flatbuffer"], arena)
    rep.update(dtype=dtype, calibration_note=note if dtype == "int8" else "",
               deployed={"rom": m["flatbuffer"], "ram": arena},
               tflm_estimate={"rom": est.rom, "ram": est.ram},
               target=None if target is None else target.to_dict(), fits=fits)
    rep["lines"] = [
        f"deploy {dtype}: .tflite {m['flatbuffer']:,} B (estimate {est.rom:,} B), TFLM arena "
        f"{arena:,} B = planned {m['head']:,} + persistent {arena - m['head']:,} (estimate "
        f"{est.ram:,} B; x86-64 host build)",
        f"measured: {text}" + ("" if dtype != "int8" else f"; int8 calibrated on {note}")]
    return rep


__all__ = ["calibration_for", "deploy_report", "verdict"]
