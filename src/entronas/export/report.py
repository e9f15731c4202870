"""Estimated vs measured resources of one exported architecture; the refined cost presets.

Why: the analytical model (Eqs. 3-5) decides what is feasible; this module holds it to the
runtime that will execute the network (flatbuffer bytes, TFLM arena) and turns what was measured
into explicit :class:`~entronas.cost.CostOptions` the reduction can use.
"""

from __future__ import annotations

import time
from typing import Any, Iterable, Sequence

import numpy as np

from .._core.arch import Arch
from .._core.errors import EntronasError, InvalidParameterError
from ..cost import CostOptions, estimate
from ..space.base import ChainSpace
from ..targets import Target
from .planning import op_graph_ram, tflm_planned_ram
from .quantise import calibrate, dequantize, quantize_activation
from .reference import OpWeights, forward
from .writer import DTYPES, TFLiteModel, write_tflite

class UnsupportedOpError(EntronasError):
    """The exported graph needs an op the MCU runtime (TFLM) does not implement."""


#: Flatbuffer bytes per layer kind beyond weights (tensor tables, names, shapes, quantisation
#: tables of per-tensor params, 16-byte buffer alignment), least-squares fit over 56 seeded
#: architectures of all 7 spaces per dtype (max residual 1.02 %); see ``tests/export``.
FLATBUFFER_LAYER_BYTES = {
    "float32": {"dense": 226, "conv": 458, "dsconv": 528, "patch": 496, "convmixer": 828,
                "head": 232},
    "int8": {"dense": 345, "conv": 335, "dsconv": 756, "patch": 558, "convmixer": 1157,
             "head": 350},
}
#: Fixed flatbuffer bytes (root table, operator codes, subgraph, description).
FLATBUFFER_FIXED_BYTES = {"float32": 315, "int8": 396}
#: int8 per-channel params per output channel: weight scale f32 + zero point i64, and the same
#: for the int32 bias = 24 B.
INT8_CHANNEL_BYTES = 24
#: TFLM persistent arena part ("tail") seen on x86-64: smallest models (used as the default
#: ``ram_overhead`` of the refined preset; the per-model value is in every measure() report).
TFLM_TAIL_MIN_BYTES = 2048


#: builtin ops the TFLM Python interpreter of the pinned tflite-micro registers (GELU is absent:
#: "Didn't find op for builtin opcode 'GELU'", so ConvMixer's GELU cannot run in TFLM as is).
TFLM_OPS = frozenset({"CONV_2D", "DEPTHWISE_CONV_2D", "FULLY_CONNECTED", "AVERAGE_POOL_2D",
                      "ADD", "PAD", "RESHAPE"})


def check_tflm_ops(ops: Iterable[str]) -> None:
    """Refuse ops TFLM lacks before running (it would fail with a bare allocation error)."""
    missing = sorted(set(ops) - TFLM_OPS)
    if missing:
        raise UnsupportedOpError(
            f"TensorFlow Lite Micro has no kernel for {', '.join(missing)}; the .tflite is valid "
            "for LiteRT but cannot run (or be measured) in TFLM; use activation 'relu' for MCU "
            "deployment")


def refined_cost_options(dtype: str = "float32", space: ChainSpace | None = None, *,
                         per_channel_fc: bool = False, ram_model: str = "ops",
                         ram_overhead: int = 0, **kw: Any) -> CostOptions:
    """CostOptions whose ROM matches the exported ``.tflite`` size (measured constants).

    * ``bias=True`` (folded BatchNorm biases are stored), int8: ``bias_bytes=4`` (int32);
    * int8: ``channel_bytes=24`` per conv output channel (per-channel scales + zero points) and
      ``fc_channel_bytes`` 0 for per-tensor FC layers (24 with ``per_channel_fc``);
    * ``code_bytes`` = flatbuffer metadata per layer kind, ``rom_overhead`` = fixed part. These
      are the *data* part of ROM; TFLM's code size (cs_t of Eq. 3) needs a target cross-build.
    * ``ram_model``: ``"ops"`` by default: the live-tensor peak of the lowered op graph
      (intra-layer buffers such as a depthwise output, GELU or residual ADD included, 16-byte
      aligned), a lower bound of TFLM's planned activations that is reached unless TFLM's greedy
      planner fragments (:func:`entronas.export.planning.tflm_planned_ram` predicts the exact
      plan of one network). ``"chain"`` and Eq. 4 (``"eq4"``) are layer-level models.
    * ``ram_overhead``: pass the target's persistent arena part (0 by default; TFLM on x86-64
      needed 2-9 kB, see ``measure()["measured"]["tail"]``).
    """
    if dtype not in DTYPES:
        raise InvalidParameterError(f"dtype must be one of {DTYPES}, got {dtype!r}")
    int8 = dtype == "int8"
    opts: dict[str, Any] = dict(bias=True, bias_bytes=4 if int8 else None,
                                channel_bytes=INT8_CHANNEL_BYTES if int8 else 0,
                                fc_channel_bytes=INT8_CHANNEL_BYTES if int8 and per_channel_fc
                                else 0,
                                rom_overhead=FLATBUFFER_FIXED_BYTES[dtype],
                                code_bytes=dict(FLATBUFFER_LAYER_BYTES[dtype]),
                                ram_model=ram_model, ram_overhead=ram_overhead)
    opts.update(kw)
    return CostOptions.for_dtype(dtype, **opts)


def estimates(space: ChainSpace, arch: Arch | Iterable[int], dtype: str) -> dict[str, int]:
    """Our ROM/RAM figures for ``arch``: plain (paper), +bias, refined, and the RAM models."""
    plain = CostOptions.for_dtype(dtype)
    with_bias = CostOptions.for_dtype(dtype, bias=True)
    refined = refined_cost_options(dtype, space)
    return {
        "rom_plain": estimate(space, arch, plain).rom,
        "rom_bias": estimate(space, arch, with_bias).rom,
        "rom_refined": estimate(space, arch, refined).rom,
        "ram_eq4": estimate(space, arch, plain).ram,
        "ram_chain": estimate(space, arch, CostOptions.for_dtype(dtype, ram_model="chain")).ram,
        "ram_op_graph": op_graph_ram(space, arch, dtype),
        "ram_tflm_plan": tflm_planned_ram(space, arch, dtype),
    }


def calibration_inputs(space: ChainSpace, n: int = 64, seed: int = 0) -> np.ndarray:
    """``n`` standard-normal inputs: calibration when no dataset is given (say so in reports)."""
    return np.random.default_rng(seed).normal(size=(n, *space.input_shape)).astype(np.float32)


def to_tflite(weights: Sequence[OpWeights], space: ChainSpace, dtype: str,
              calibration: np.ndarray | None = None, per_channel_fc: bool = False,
              description: str = "") -> TFLiteModel:
    """Write float32 directly, or calibrate on ``calibration`` and write int8."""
    ranges = None
    if dtype == "int8":
        if calibration is None:
            calibration = calibration_inputs(space)
        ranges = calibrate(weights, calibration)
    return write_tflite(weights, space.input_shape, dtype=dtype, ranges=ranges,
                        per_channel_fc=per_channel_fc, description=description)


def tflm_outputs(model: TFLiteModel, x: np.ndarray) -> np.ndarray:
    """Float outputs of the model in TFLM for a channels-first float batch (int8: (de)quantised)."""
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
    model = to_tflite(weights, space, dtype, calibration, per_channel_fc,
                      f"entronas {space.name}[{'-'.join(map(str, widths))}] {dtype}")
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
        "rom_refined_ratio": round(size / e["rom_refined"], 4),
        "head_eq_eq4": m["head"] == e["ram_eq4"],
        "head_eq_chain": m["head"] == e["ram_chain"],
        "head_eq_op_graph": m["head"] == e["ram_op_graph"],
        "head_eq_tflm_plan": m["head"] == e["ram_tflm_plan"],
        "head_over_eq4": round(m["head"] / e["ram_eq4"], 4),
    }


def check_fits(space: ChainSpace, arch: Arch | Iterable[int], target: Target,
               options: CostOptions | None = None, dtype: str | None = None) -> dict[str, Any]:
    """What of ``arch`` exceeds ``target`` under ``options`` (default: refined int8 options).

    Returns ``{"fits": bool, "exceeds": {"rom": (need, budget), ...}, "costs": {...}}``; an
    architecture chosen with the plain model that no longer fits after int8 overheads (int32
    biases, per-channel params, flatbuffer metadata, op-graph activations) is flagged here.
    """
    dtype = dtype or ("int8" if options is None or options.weight_bytes == 1 else "float32")
    options = options or refined_cost_options(dtype, space)
    costs = estimate(space, arch, options)
    need = {"rom": costs.rom, "ram": max(costs.ram, op_graph_ram(space, arch, dtype)
                                         + options.ram_overhead), "flops": costs.flops}
    exceeds = {k: (need[k], getattr(target, k)) for k in need
               if getattr(target, k) is not None and need[k] > getattr(target, k)}
    return {"fits": not exceeds, "exceeds": exceeds, "costs": need, "target": target.name,
            "options": options.to_dict()}
