"""The direct TFLite writer checked against a second runtime: Google's LiteRT interpreter.

LiteRT also runs ConvMixer (GELU), which TFLite Micro has no kernel for. float32 outputs must
match the numpy reference of the layer description to 1e-5 (relative to the output range for
large outputs); int8 outputs must stay within the same quantisation bound as in TFLM.
"""

from __future__ import annotations

import numpy as np
import pytest

from entronas.export.reference import forward, random_weights
from entronas.export.report import calibration_inputs, int8_error_bound, to_tflite
from entronas.export.weights import space_ops

from .conftest import SPACES, feasible_arch, litert_outputs, space

litert = pytest.importorskip("ai_edge_litert.interpreter",
                             reason="LiteRT not installed (pip install ai-edge-litert)")


@pytest.mark.parametrize("dtype", ["float32", "int8"])
@pytest.mark.parametrize("name", sorted(SPACES))
def test_litert_runs_the_exported_model(name: str, dtype: str) -> None:
    sp, arch = space(name), feasible_arch(name)
    weights = random_weights(space_ops(sp, arch), seed=0)
    x = calibration_inputs(sp, 16, seed=1)
    model = to_tflite(weights, sp, dtype, calibration=x if dtype == "int8" else None)
    got = litert_outputs(model, x)
    want = forward(weights, x).reshape(len(x), -1)
    err = float(np.abs(got - want).max())
    if dtype == "float32":
        assert err <= 1e-5 * max(1.0, float(np.abs(want).max())), err
    else:
        assert err <= int8_error_bound(model, weights), err
