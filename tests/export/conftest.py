"""Shared cases: one seeded feasible architecture per backbone (small inputs: seconds)."""

from __future__ import annotations

import importlib.util
from functools import lru_cache

import numpy as np
import pytest

from entronas.cost import CostOptions, estimate
from entronas.space import get_space, list_spaces
from entronas.targets import get_target

HAS_TFLM = importlib.util.find_spec("tflite_micro") is not None
HAS_TORCH = importlib.util.find_spec("torch") is not None
needs_tflm = pytest.mark.skipif(not HAS_TFLM, reason="tflite-micro not installed "
                                "(pip install tflite-micro==0.dev20261023182759)")
needs_torch = pytest.mark.skipif(not HAS_TORCH, reason="torch not installed")

#: reduced inputs / depths so that a case runs in about a second
_SMALLER = {
    "dscnn-kws": dict(depth_max=6),
    "autoencoder-ad": dict(depth_max=6),
    "convmixer-cifar10": dict(input_shape=(3, 16, 16), depth_max=8),
    "mobilenet-vww": dict(input_shape=(3, 32, 32), depth_max=8),
}
#: every registered space is a case, picked up from the registry (no hand-kept list)
SPACES = {name: _SMALLER.get(name, {}) for name in list_spaces()}


@lru_cache(maxsize=None)
def space(name: str):
    return get_space(name, **SPACES[name])


@lru_cache(maxsize=None)
def feasible_arch(name: str, seed: int = 0) -> tuple[int, ...]:
    """A random member of the space that fits the STM32F412 (plain float32 model), seeded."""
    sp, rng = space(name), np.random.default_rng(seed)
    target = get_target("stm32f412")
    while True:
        d = int(rng.integers(sp.depth_min, sp.depth_max + 1))
        ws = [int(rng.choice(sp.grid(d, i))) for i in range(d)]
        try:
            sp.check_arch(ws)
        except Exception:
            continue
        c = estimate(sp, ws, CostOptions.for_dtype("float32"))
        if target.fits(c.rom, c.ram, c.flops):
            return tuple(ws)


@lru_cache(maxsize=None)
def measured(name: str, dtype: str) -> dict:
    """measure() of the seeded arch (cached: several tests read one measurement)."""
    from entronas.export import measure

    return measure(space(name), feasible_arch(name), dtype=dtype)


@lru_cache(maxsize=None)
def calibrated(name: str) -> bool:
    """Whether the tflm constants were fitted on every layer and op kind of the space."""
    from entronas.cost.tflm import uncalibrated

    return not uncalibrated(space(name).layers(feasible_arch(name)))


def litert_outputs(model, x: np.ndarray) -> np.ndarray:
    """Outputs of an exported model in Google's LiteRT interpreter, dequantised."""
    from entronas.export.quantise import dequantize, quantize_activation

    litert = pytest.importorskip("ai_edge_litert.interpreter",
                                 reason="LiteRT not installed (pip install ai-edge-litert)")
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
