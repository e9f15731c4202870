"""A backbone written as blocks in a space file deploys: every block kind, exported with seeded
random weights, runs in TFLM with the reference's outputs, and the tflm estimate covers the
written file and TFLM's smallest working arena (found in child processes)."""

from __future__ import annotations

import pytest

from entronas.space.config import space_from_dict

from .conftest import litert_outputs, needs_tflm

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


#: both pooling kinds, in conv and dwsep blocks, a window that does not divide its map (3 on 10)
POOLED = dict(
    name="pooled", depth=[4, 4], widths=[4, 8, 12], input_shape=[1, 20, 12], num_classes=4,
    blocks=[{"block": "conv", "pool": "avg"},
            {"block": "dwsep", "pool": "max", "pool_size": 3},
            {"block": "conv", "kernel": 1, "pool": "max"},
            {"block": "dwsep"}])


@pytest.mark.parametrize("dtype", ["float32", "int8"])
def test_pooling_blocks_run_in_tflm_and_litert_as_the_reference(dtype):
    """MAX_POOL_2D and windowed AVERAGE_POOL_2D: TFLM's outputs match the float reference,
    its file and smallest arena are within the tflm estimate, and LiteRT agrees too."""
    import numpy as np

    from entronas.export import measure
    from entronas.export.reference import forward, random_weights
    from entronas.export.report import calibration_inputs, int8_error_bound, to_tflite
    from entronas.export.weights import space_ops

    space = space_from_dict(POOLED)
    widths = (8, 12, 8, 12)
    assert [op.kind for layer in space.layers(widths) for op in layer.ops
            if op.kind.endswith("pool")] == ["avg_pool", "max_pool", "max_pool",
                                             "global_avg_pool"]
    r = measure(space, widths, dtype=dtype)
    assert r["numerics"]["ok"], r["numerics"]
    assert r["measured"]["flatbuffer"] <= r["estimate"]["rom_tflm"]
    assert r["measured"]["min_arena"] <= r["estimate"]["ram_tflm"]
    assert r["measured"]["head"] == r["estimate"]["ram_tflm_plan"]
    weights = random_weights(space_ops(space, widths), seed=0)
    x = calibration_inputs(space, 8, seed=1)
    model = to_tflite(weights, space, dtype, calibration=x if dtype == "int8" else None)
    got = litert_outputs(model, x)
    err = float(np.abs(got - forward(weights, x).reshape(len(x), -1)).max())
    assert err <= (1e-5 if dtype == "float32" else int8_error_bound(model, weights)), err


#: ReLU6 (MobileNetV2, MCUNet) in every block kind that takes it; random weights push
#: pre-activations past 6, so the clamp is exercised
RELU6 = dict(
    name="relu6", depth=[3, 3], widths=[4, 8, 12], input_shape=[2, 16, 16], num_classes=3,
    blocks=[{"block": "conv", "activation": "relu6", "stride": 2},
            {"block": "dwsep", "activation": "relu6"},
            {"block": "invres", "expansion": 3, "activation": "relu6"}])


@pytest.mark.parametrize("dtype", ["float32", "int8"])
def test_relu6_runs_in_tflm_and_litert_as_the_reference(dtype):
    """A fused RELU6 in CONV_2D / DEPTHWISE_CONV_2D: TFLM (float32 and int8) and LiteRT
    (float32) match the float reference's clamp, within the tflm estimate."""
    import numpy as np

    from entronas.export import measure
    from entronas.export.reference import forward, random_weights
    from entronas.export.report import calibration_inputs, to_tflite
    from entronas.export.weights import space_ops

    space = space_from_dict(RELU6)
    widths = (8, 8, 12)
    weights = random_weights(space_ops(space, widths), seed=0)
    x = calibration_inputs(space, 16, seed=1)
    want, stages = forward(weights, x, record=True)
    assert max(float(v.max()) for k, v in stages.items() if k.endswith("/pre")) > 6
    r = measure(space, widths, dtype=dtype)
    assert r["numerics"]["ok"], r["numerics"]
    assert r["measured"]["flatbuffer"] <= r["estimate"]["rom_tflm"]
    assert r["measured"]["min_arena"] <= r["estimate"]["ram_tflm"]
    if dtype == "float32":   # the clamp itself, exactly (int8: within measure's bound above)
        model = to_tflite(weights, space, dtype)
        assert float(np.abs(litert_outputs(model, x) - want.reshape(len(x), -1)).max()) <= 1e-5


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
