"""A backbone written as blocks in a space file deploys: every block kind, exported with seeded
random weights, runs in TFLM with the reference's outputs, and the tflm estimate covers the
written file and TFLM's smallest working arena (found in child processes)."""

from __future__ import annotations

import pytest

from entronas.space.config import space_from_dict

from .conftest import needs_tflm

pytestmark = needs_tflm

#: conv, dwsep, invres (a stage: its repeat adds), basic (identity, then a projection), mixer
EVERY_KIND = dict(
    name="every-block", depth=[7, 7], widths=[4, 8, 12], input_shape=[2, 16, 16],
    num_classes=3,
    blocks=[{"block": "conv", "stride": 2, "widths": [4, 8]},
            {"block": "dwsep", "kernel": 5},
            {"block": "invres", "expansion": 3, "stride": 2, "repeat": 2},
            {"block": "basic", "shortcut": "identity"},
            {"block": "basic", "stride": 2, "widths": [8, 12, 16]},
            {"block": "mixer", "kernel": 3, "activation": "relu"}])


@pytest.mark.parametrize("dtype", ["float32", "int8"])
def test_every_block_kind_runs_in_tflm_within_the_estimate(dtype):
    from entronas.export import measure

    space = space_from_dict(EVERY_KIND)
    r = measure(space, (8, 8, 12, 12, 12, 16, 12), dtype=dtype)
    assert r["numerics"]["ok"], r["numerics"]
    assert r["agreement"]["rom_tflm_ratio"] >= 1.0, r["agreement"]
    assert r["estimate"]["ram_tflm"] >= r["measured"]["min_arena"], (r["estimate"],
                                                                      r["measured"])
    assert r["measured"]["head"] == r["estimate"]["ram_tflm_plan"]


def test_a_residual_add_that_never_fired_in_calibration_still_runs_in_tflm():
    """Found by benchmarks/fit_tflm.py: an inverted residual on a 1x1 map whose ReLU'd sum was 0
    on every calibration input got an int8 output scale of ~4e-9, and TFLM's ADD aborted in
    Prepare (signal 6). A range that collapses to 0 now gets a span of 1."""
    import numpy as np

    from entronas.export.quantise import activation_qparams
    from entronas.export.reference import random_weights
    from entronas.export.report import to_tflite
    from entronas.export.tflm_measure import allocations
    from entronas.export.weights import space_ops

    assert activation_qparams(0.0, 0.0)[0] == 1 / 255
    space = space_from_dict({
        "name": "tiny-maps", "depth": [3, 12], "widths": [4, 8, 12, 16],
        "input_shape": [3, 8, 8], "num_classes": 2,
        "blocks": [{"block": "conv", "stride": 2},
                   {"block": "basic", "shortcut": "identity", "repeat": 2},
                   {"block": "invres", "expansion": 4, "repeat": 3},
                   {"block": "dwsep", "stride": 2, "repeat": 2},
                   {"block": "invres", "expansion": 2, "stride": 2, "repeat": 2},
                   {"block": "basic", "repeat": 2}]})
    arch = (16, 16, 16, 12, 12, 12, 12, 16, 4, 4)
    calib = np.random.default_rng(0).normal(size=(4, *space.input_shape)).astype(np.float32)
    model = to_tflite(random_weights(space_ops(space, arch)), space, "int8", calib)
    assert allocations(model.data)["head"] > 0      # ran (a crash raises)
