"""The deployed cost convention ``tflm``: flatbuffer bytes and the TensorFlow Lite Micro arena.

Why: the paper's Eqs. 3-4 count weights and ping-pong buffers of fused layers; what must fit
the MCU is the ``.tflite`` file in flash and TFLM's tensor arena in RAM. Both are properties of
the lowered operator graph (:func:`entronas.space.lowering.lower`), which the writer emits, so
this module counts that graph:

* **ROM** = flatbuffer bytes = constant data (weights, biases, 16-byte aligned) + per-tensor,
  per-operator and fixed container bytes + int8 quantisation tables. The container constants are
  an upper envelope fitted on measured files (:data:`FLATBUFFER`), so the estimate errs high.
* **RAM** = the persistent part (tensor structs, node structs, kernel op data, per-channel
  quantisation arrays; :data:`PERSISTENT`, fitted on TFLM's recorded "tail") + the larger of
  TFLM's planned activation arena (its greedy planner replayed exactly:
  :func:`entronas.cost.planner.greedy_plan`) and the temporaries TFLM needs while it prepares
  the kernels (:data:`PREPARE`, which binds for small fully connected networks, fitted where
  the smallest working arena exceeds planned + persistent). ``PREPARE`` depends on the graph's
  structure only, never on a width, so it is one constant per depth for the reduction.

Every count here is additive over layers and non-decreasing in every width, which is what the
reduction needs. The constants were measured on an x86-64 host build of TFLM (64-bit pointers);
a 32-bit Cortex-M needs less, so the figures err on the safe side. The runtime's own code and the
application are not in these figures: a target's ``rom_reserve`` / ``ram_reserve`` stand for
them (``--rom-reserve``, ``--ram-reserve``). ``benchmarks/fit_tflm.py`` re-measures and re-fits
the constants (``cost/tflm_constants.py``).
"""

from __future__ import annotations

from collections import Counter
from functools import lru_cache
from typing import Sequence

from .._core.errors import InvalidSpaceError
from ..space.layers import Layer
from ..space.lowering import Lowered, lower
from .tflm_constants import FLATBUFFER, PERSISTENT, PREPARE

DTYPE_BYTES = {"float32": 4, "int8": 1}
#: builtin ops the TFLM interpreter of the pinned tflite-micro registers (GELU is absent:
#: "Didn't find op for builtin opcode 'GELU'", so a GELU network cannot run on the MCU as is)
TFLM_OPS = frozenset({"CONV_2D", "DEPTHWISE_CONV_2D", "FULLY_CONNECTED", "AVERAGE_POOL_2D",
                      "MAX_POOL_2D", "ADD", "PAD", "RESHAPE"})
#: bytes of the constant data of a role, per element, by dtype (int8 models store int32 biases)
_ROLE_BYTES = {"float32": {"weights": 4, "bias": 4, "paddings": 4},
               "int8": {"weights": 1, "bias": 4, "paddings": 4}}
#: the tensor-name digits the container model allows for (op indices below 10**3)
NAME_DIGITS = 3


def check_tflm_codes(codes: Sequence[str] | set[str], where: str = "the network") -> None:
    """Refuse operators TensorFlow Lite Micro has no kernel for, naming the fix."""
    missing = sorted(set(codes) - TFLM_OPS)
    if missing:
        raise InvalidSpaceError(
            f"{where} needs {', '.join(missing)}, which TensorFlow Lite Micro has no kernel "
            "for, so it cannot be deployed (or counted as deployed); use activation = 'relu' "
            "(a space file with [space.options] activation = \"relu\"), or count with "
            "--costs paper / export for LiteRT")


#: layer kinds the constants were fitted on (``benchmarks/fit_tflm.py``'s variants cover
#: exactly these; a test keeps the two in step). A kind outside it has an op mix the linear
#: models never saw, and may be under-counted (before ResNet blocks were measured and fitted,
#: the arena estimate of a ResNet fell 1,568 B below TFLM's smallest working arena), so such a
#: layer is refused under ``tflm`` until it is measured and the constants are refitted
CALIBRATED_KINDS = frozenset({"dense", "head", "conv", "dsconv", "patch", "convmixer",
                              "resblock", "invres"})


#: op kinds (:data:`entronas.space.layers.OP_KINDS`) the constants were fitted on, for the
#: same reason: a pooling window inside a conv block keeps the layer's kind but adds an
#: operator (MAX_POOL_2D) the flatbuffer and arena models have no term for
CALIBRATED_OPS = frozenset({"conv2d", "linear", "global_avg_pool", "max_pool", "avg_pool",
                            "add"})


class UncalibratedError(InvalidSpaceError):
    """Layers whose kind the ``tflm`` constants were not fitted on (so they have no estimate)."""


def uncalibrated(layers: Sequence[Layer]) -> list[str]:
    """Layer kinds and op kinds of ``layers`` the ``tflm`` constants were not fitted on."""
    kinds = sorted({layer.kind for layer in layers} - CALIBRATED_KINDS)
    ops = sorted({op.kind for layer in layers for op in layer.ops} - CALIBRATED_OPS)
    return [f"{k!r} layers" for k in kinds] + [f"{k!r} ops" for k in ops]


def check_calibrated(layers: Sequence[Layer], where: str) -> None:
    """Refuse layers whose kind the ``tflm`` constants were not fitted on, naming the fix."""
    missing = uncalibrated(layers)
    if missing:
        raise UncalibratedError(
            f"{where} has {', '.join(missing)}, which the tflm convention "
            "is not calibrated for yet (its flatbuffer and arena constants were fitted without "
            "them, and would under-count); count with --costs paper, export to measure in "
            "TFLM, or add the space to benchmarks/fit_tflm.py and refit")


def align16(n: int) -> int:
    return -(-n // 16) * 16


def graph_features(g: Lowered, dtype: str, *, with_input: bool = True) -> Counter:
    """The counts the flatbuffer and persistent-arena models are linear in.

    ``with_input=False`` leaves out tensor 0 (a layer's input, which the previous layer owns),
    so that summing the features of a network's layers gives the network's features.
    """
    f: Counter = Counter()
    acts = g.tensors if with_input else g.tensors[1:]
    f["act_tensors"] += len(acts)
    f["dims"] += sum(len(t.shape) for t in acts)
    int8 = dtype == "int8"
    for op in g.ops:
        f[f"op:{op.code}"] += 1
        for c in op.constants:
            n = c.elements * _ROLE_BYTES[dtype][c.role]
            f["const_tensors"] += 1
            f["dims"] += len(c.shape)
            f["const_data"] += align16(n)
            if int8 and c.channels:
                f["quant_entries"] += c.channels
        if op.code in ("CONV_2D", "DEPTHWISE_CONV_2D"):
            f["conv_channels"] += g.tensors[op.output].shape[-1]
        if op.code == "FULLY_CONNECTED" and op.constants and op.constants[0].channels > 1:
            f["fc_channels"] += g.tensors[op.output].shape[-1]
    if int8:
        f["quant_entries"] += len(acts)
    return f


def _linear(features: Counter, weights: dict[str, int]) -> int:
    return int(sum(weights.get(k, 0) * v for k, v in features.items()))


def layer_features(layer: Layer, dtype: str, *, first: bool, per_channel_fc: bool = False
                   ) -> Counter:
    return Counter(_layer_features(layer, dtype, first, per_channel_fc))


@lru_cache(maxsize=65536)
def _layer_features(layer: Layer, dtype: str, first: bool, per_channel_fc: bool) -> Counter:
    """Cached: a reduction replays the same layers in many members (read, never changed)."""
    return graph_features(lower(layer.ops, per_channel_fc=per_channel_fc), dtype,
                          with_input=first)


@lru_cache(maxsize=65536)
def layer_arena_parts(layer: Layer, dtype: str, first: bool) -> tuple[int, int]:
    """(Prepare-time bytes without the fixed part, persistent bytes) of one layer: both are
    linear in the features, so a network's are its layers' sums."""
    f = _layer_features(layer, dtype, first, False)
    prep = _linear(Counter({k: v for k, v in f.items() if k != "fixed"}), PREPARE[dtype])
    return prep, persistent_bytes(f, dtype)


def flatbuffer_bytes(features: Counter, dtype: str) -> int:
    """Variable flatbuffer bytes of a feature count (without the fixed part)."""
    return int(features["const_data"]) + _linear(features, FLATBUFFER[dtype])


def persistent_bytes(features: Counter, dtype: str) -> int:
    """Variable persistent-arena bytes of a feature count (without the fixed part)."""
    return _linear(features, PERSISTENT[dtype])


def prepare_bytes(features: Counter, dtype: str) -> int:
    """Prepare-time arena besides the persistent part (all of it, fixed part included)."""
    table = PREPARE[dtype]
    return int(table.get("fixed", 0)) + _linear(
        Counter({k: v for k, v in features.items() if k != "fixed"}), table)


def fixed_flatbuffer_bytes(dtype: str) -> int:
    return int(FLATBUFFER[dtype].get("fixed", 0))


def fixed_persistent_bytes(dtype: str) -> int:
    return int(PERSISTENT[dtype].get("fixed", 0))


def network_features(layers: Sequence[Layer], dtype: str, per_channel_fc: bool = False
                     ) -> Counter:
    total: Counter = Counter()
    for i, layer in enumerate(layers):
        total.update(layer_features(layer, dtype, first=i == 0, per_channel_fc=per_channel_fc))
    return total


__all__ = ["CALIBRATED_KINDS", "CALIBRATED_OPS", "DTYPE_BYTES", "TFLM_OPS", "UncalibratedError",
           "align16", "check_calibrated", "check_tflm_codes", "fixed_flatbuffer_bytes",
           "fixed_persistent_bytes", "flatbuffer_bytes", "graph_features", "layer_features",
           "network_features", "persistent_bytes", "prepare_bytes", "uncalibrated"]
