"""Estimated vs measured resources of one exported architecture.

Why: the cost conventions decide what is feasible; this module holds them to the runtime that
will execute the network (the written flatbuffer, TFLM's planned and smallest working arena),
so every claim that a network fits is a measurement next to its estimate.
"""

from __future__ import annotations

import time
from typing import Any, Iterable, Sequence

import numpy as np

from .._core.arch import Arch
from .._core.errors import EntronasError
from ..cost import CostOptions, estimate
from ..space.base import ChainSpace
from ..targets import Target
from .planning import op_graph_ram, tflm_planned_ram
from .quantise import calibrate, dequantize, quantize_activation
from .reference import OpWeights, forward
from .writer import TFLiteModel, write_tflite


class UnsupportedOpError(EntronasError):
    """The exported graph needs an op the MCU runtime (TFLM) does not implement."""


def check_tflm_ops(ops: Iterable[str]) -> None:
    """Refuse ops TFLM lacks before running (it would fail with a bare allocation error)."""
    from ..cost.tflm import check_tflm_codes

    try:
        check_tflm_codes(ops)
    except EntronasError as exc:
        raise UnsupportedOpError(str(exc)) from None


def estimates(space: ChainSpace, arch: Arch | Iterable[int], dtype: str) -> dict[str, int]:
    """Our ROM/RAM figures for ``arch``: the paper's (plain, +bias), the deployed ``tflm``
    convention's, and every RAM model."""
    from ..cost.conventions import costs

    from ..cost.tflm import UncalibratedError

    paper = estimate(space, arch, costs("paper", dtype))
    try:
        tflm = estimate(space, arch, costs("tflm", dtype))
    except UncalibratedError:  # layers the tflm constants are not fitted on: no estimate
        tflm = None
    return {
        "rom_plain": paper.rom,
        "rom_bias": estimate(space, arch, costs("paper", dtype, bias=True)).rom,
        "rom_tflm": None if tflm is None else tflm.rom,
        "ram_eq4": paper.ram,
        "ram_chain": estimate(space, arch, costs("paper", dtype, ram_model="chain")).ram,
        "ram_op_graph": op_graph_ram(space, arch, dtype),
        "ram_tflm_plan": tflm_planned_ram(space, arch, dtype),
        "ram_tflm": None if tflm is None else tflm.ram,
    }


def calibration_inputs(space: ChainSpace, n: int = 64, seed: int = 0) -> np.ndarray:
    """``n`` standard-normal inputs: calibration when no dataset is given (say so in reports)."""
    return np.random.default_rng(seed).normal(size=(n, *space.input_shape)).astype(np.float32)


def to_tflite(weights: Sequence[OpWeights], space: ChainSpace, dtype: str,
              calibration: np.ndarray | None = None, per_channel_fc: bool = False,
              description: str = "entronas") -> TFLiteModel:
    """Write float32 directly, or calibrate on ``calibration`` and write int8."""
    ranges = None
    if dtype == "int8":
        if calibration is None:
            calibration = calibration_inputs(space)
        ranges = calibrate(weights, calibration)
    return write_tflite(weights, space.input_shape, dtype=dtype, ranges=ranges,
                        per_channel_fc=per_channel_fc, description=description)


def tflm_outputs(model: TFLiteModel, x: np.ndarray) -> np.ndarray:
    """Float outputs in TFLM for a channels-first float batch (int8: quantised, dequantised)."""
    from .tflm_measure import run

    xin = model.to_nhwc(x)
    if model.dtype == "int8":
        assert model.input_quant is not None and model.output_quant is not None
        y = run(model.data, quantize_activation(xin, *model.input_quant))
        y = dequantize(y, *model.output_quant)
    else:
        y = run(model.data, xin.astype(np.float32))
    return np.asarray(y, np.float64).reshape(len(x), -1)


def int8_error_bound(model: TFLiteModel, weights: Sequence[OpWeights]) -> float:
    """Tolerance for int8 vs float: (2 + quantised ops) output LSBs.

    Each requantisation rounds by at most 1/2 LSB of its own tensor, and errors add up along
    the chain; measured errors stay well inside this (tests/export reports them).
    """
    assert model.output_quant is not None
    n = sum(1 for _, w, _ in weights if w is not None)
    return (2 + n) * model.output_quant[0]


def numerics(model: TFLiteModel, weights: Sequence[OpWeights], x: np.ndarray) -> dict[str, Any]:
    """Max/mean abs error of TFLM's output vs the float64 reference on ``x``."""
    ref = np.asarray(forward(weights, x)).reshape(len(x), -1)
    got = tflm_outputs(model, x)
    err = np.abs(got - ref)
    out = {"max_abs_err": float(err.max()), "mean_abs_err": float(err.mean()),
           "output_range": float(ref.max() - ref.min()), "n": int(len(x))}
    if model.dtype == "int8":
        out["bound"] = int8_error_bound(model, weights)
        out["output_scale"] = float(model.output_quant[0])  # type: ignore[index]
        if ref.shape[1] > 1:
            out["argmax_agreement"] = float(np.mean(got.argmax(1) == ref.argmax(1)))
    else:
        out["bound"] = 1e-5
    out["ok"] = out["max_abs_err"] <= out["bound"]
    return out


def measure(space: ChainSpace, arch: Arch | Iterable[int], state_dict: Any = None,
            dtype: str = "float32", *, calibration: np.ndarray | None = None,
            bisect: bool = True, per_channel_fc: bool = False, seed: int = 0,
            check_numerics: bool = True) -> dict[str, Any]:
    """Export ``arch`` and return estimated vs measured ROM/RAM, the op list and numerics.

    The search calls this for its best trial; without ``state_dict`` the weights are random
    (a deployment dry run: sizes and arena are exact, accuracy meaningless).
    """
    from .tflm_measure import measure_tflm
    from .weights import model_weights

    t0 = time.perf_counter()
    widths = space.check_arch(arch)
    weights, trained = model_weights(space, widths, state_dict, seed=seed)
    if calibration is None:
        calibration = calibration_inputs(space, 64, seed)
    model = to_tflite(weights, space, dtype, calibration, per_channel_fc)
    from .fbinspect import inspect_tflite

    info = inspect_tflite(model.data)
    check_tflm_ops(model.ops)
    tflm = measure_tflm(model.data, bisect=bisect)
    est = estimates(space, widths, dtype)
    report: dict[str, Any] = {
        "space": space.name, "widths": list(widths), "dtype": dtype, "trained": trained,
        "per_channel_fc": per_channel_fc, "ops": list(model.ops), "op_sequence": info["ops"],
        "estimate": est,
        "measured": {"flatbuffer": model.size, "const_bytes": info["const_bytes"],
                     "activation_bound": info["activation_bound"], **tflm},
        "io": {"input_shape": list(model.input_shape), "output_shape": list(model.output_shape),
               "input_quant": model.input_quant, "output_quant": model.output_quant},
    }
    report["agreement"] = agreement(report)
    if check_numerics:
        report["numerics"] = numerics(model, weights, calibration[:16])
    report["seconds"] = round(time.perf_counter() - t0, 3)
    report["_model"] = model
    return report


def agreement(report: dict[str, Any]) -> dict[str, Any]:
    """Ratios and equalities between estimate and measurement (the issue's checks)."""
    e, m = report["estimate"], report["measured"]
    size = m["flatbuffer"]
    return {
        "rom_bias_ratio": round(size / e["rom_bias"], 4),
        "rom_tflm_ratio": None if e["rom_tflm"] is None else round(e["rom_tflm"] / size, 4),
        "ram_tflm_ratio": (round(e["ram_tflm"] / m["min_arena"], 4)
                           if m.get("min_arena") and e["ram_tflm"] is not None else None),
        "head_eq_eq4": m["head"] == e["ram_eq4"],
        "head_eq_chain": m["head"] == e["ram_chain"],
        "head_eq_op_graph": m["head"] == e["ram_op_graph"],
        "head_eq_tflm_plan": m["head"] == e["ram_tflm_plan"],
        "head_over_eq4": round(m["head"] / e["ram_eq4"], 4),
    }


def check_fits(space: ChainSpace, arch: Arch | Iterable[int], target: Target,
               options: CostOptions | None = None, dtype: str = "int8") -> dict[str, Any]:
    """What of ``arch`` exceeds ``target`` under ``options`` (default: the deployed ``tflm``
    convention in ``dtype``), the target's reserves included.

    Returns ``{"fits": bool, "exceeds": {"rom": (need, available), ...}, "costs": {...}}``.
    """
    from ..cost.conventions import costs

    options = options or costs("tflm", dtype)
    c = estimate(space, arch, options)
    need = {"rom": c.rom, "ram": c.ram, "flops": c.flops}
    exceeds = {k: (need[k], target.available(k)) for k in need
               if target.available(k) is not None and need[k] > target.available(k)}
    return {"fits": not exceeds, "exceeds": exceeds, "costs": need, "target": target.name,
            "convention": options.describe(), "options": options.to_dict()}
