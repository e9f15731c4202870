"""The tflm convention against TensorFlow Lite Micro, on seeded members of every registered
space (the TFLM-capable variant; ConvMixer with ReLU): the planner replay equals TFLM's
planned arena, and neither the file nor the smallest working arena exceeds its estimate.
``benchmarks/bench_fit.py`` runs thousands more; this is the seeded subset CI runs."""

from __future__ import annotations

import numpy as np
import pytest

from entronas._core.errors import InvalidSpaceError
from entronas.cost import costs, estimate
from entronas.cost.tflm import CALIBRATED_KINDS, CALIBRATED_OPS, uncalibrated
from entronas.space import get_space, list_spaces

from .conftest import needs_tflm

pytestmark = needs_tflm


def _small(name: str):
    """Every registered space, with inputs/depths small enough for a quick TFLM run."""
    space = get_space(name)
    ov: dict = {"depth_max": min(space.depth_max, space.depth_min + 1)}
    if len(space.input_shape) == 3 and space.input_shape[1] > 32:
        ov["input_shape"] = (space.input_shape[0], 32, 32)
    if space.backbone == "convmixer":
        ov.update(input_shape=(3, 16, 16), options={"activation": "relu"})
    return space.with_options(**ov)


def _members(space, n, seed):
    rng = np.random.default_rng(seed)
    out = []
    while len(out) < n:
        d = int(rng.integers(space.depth_min, space.depth_max + 1))
        ws = [int(rng.choice(space.grid(d, i))) for i in range(d)]
        try:
            out.append(space.check_arch(ws))
        except Exception:
            continue
    return out


@pytest.mark.parametrize("dtype", ["float32", "int8"])
@pytest.mark.parametrize("name", list_spaces())
def test_replay_and_estimates_hold_in_tflm(name: str, dtype: str) -> None:
    from entronas.export.planning import tflm_planned_ram
    from entronas.export.reference import random_weights
    from entronas.export.report import to_tflite
    from entronas.export.tflm_measure import measure_tflm
    from entronas.export.weights import space_ops

    space = _small(name)
    opts = costs("tflm", dtype)
    calib = np.random.default_rng(0).normal(size=(4, *space.input_shape)).astype(np.float32)
    for widths in _members(space, 2, seed=len(name)):
        model = to_tflite(random_weights(space_ops(space, widths)), space, dtype, calib)
        m = measure_tflm(model.data)
        assert m["head"] == tflm_planned_ram(space, widths, dtype), widths
        if uncalibrated(space.layers(widths)):
            with pytest.raises(InvalidSpaceError, match="not calibrated"):
                estimate(space, widths, opts)
            continue
        est = estimate(space, widths, opts)
        assert model.size <= est.rom <= 1.03 * model.size, (widths, model.size, est.rom)
        assert m["min_arena"] <= est.ram <= 1.3 * m["min_arena"], (widths, m, est.ram)


def test_calibrated_kinds_are_what_the_fit_measured() -> None:
    """CALIBRATED_KINDS / CALIBRATED_OPS say which layer and op kinds benchmarks/fit_tflm.py
    fitted the constants on."""
    import importlib.util
    from pathlib import Path

    path = Path(__file__).resolve().parents[2] / "benchmarks" / "fit_tflm.py"
    spec = importlib.util.spec_from_file_location("fit_tflm", path)
    fit = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(fit)
    kinds, ops = set(), set()
    for _label, preset, overrides in fit.all_variants():
        sp = fit._space(preset, overrides)
        d = sp.depth_max
        layers = sp.layers([sp.grid(d, i)[-1] for i in range(d)])
        kinds |= {layer.kind for layer in layers}
        ops |= {op.kind for layer in layers for op in layer.ops}
    assert kinds == set(CALIBRATED_KINDS)
    assert ops == set(CALIBRATED_OPS)
