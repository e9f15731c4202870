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

from .conftest import SPACES, feasible_arch, space

litert = pytest.importorskip("ai_edge_litert.interpreter",
                             reason="LiteRT not installed (pip install ai-edge-litert)")


def litert_outputs(model, x: np.ndarray) -> np.ndarray:
    from entronas.export.quantise import dequantize, quantize_activation

    interp = litert.Interpreter(model_content=bytes(model.data))
    interp.allocate_tensors()
    inp, out = interp.get_input_details()[0], interp.get_output_details()[0]
    xin = model.to_nhwc(x)
    rows = []
    for i in range(len(x)):
        xi = xin[i:i + 1]
        if model.dtype == "int8":
            xi = quantize_activation(xi, *model.input_quant)
        interp.set_tensor(inp["index"], xi.astype(inp["dtype"]))
        interp.invoke()
        y = interp.get_tensor(out["index"])
        if model.dtype == "int8":
            y = dequantize(y, *model.output_quant)
        rows.append(np.asarray(y, np.float64).reshape(-1))
    return np.stack(rows)


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
