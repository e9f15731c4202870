"""Conventions of the resource model (what is counted, with how many bytes)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Mapping

from .._core.errors import InvalidParameterError
from .._core.validation import check_choice, check_number

RAM_MODELS = ("eq4", "chain", "ops", "tflm")
#: named cost conventions (see :mod:`entronas.cost.conventions`)
CONVENTIONS = ("paper", "tflm")


@dataclass(frozen=True)
class CostOptions:
    """Counting conventions of Eqs. (3)-(5), or of the deployed TFLite Micro model.

    Build one with :func:`entronas.cost.conventions.costs` (``"paper"`` or ``"tflm"``) rather
    than field by field: the name is part of the value, printed with every count and stored with
    every run, so a result always says how it was counted.

    Attributes:
        weight_bytes: D_i for weights (4 = float32, 1 = int8).
        activation_bytes: D_i for intermediate results.
        input_bytes: D^in for the network input.
        bias: count additive terms (a layer's own bias, or the bias that folding its BatchNorm
            creates) as weights. The paper's footnote 3 counts w = M*N only, so the default is
            False (this reproduces its ROM figures: MicroNet-KWS-S = 236,544 B).
        code_bytes: cs_t of Eq. (3), bytes of program code per layer of kind t (default 0).
        flops_per_mac: f_i of Eq. (5) for conv/FC layers (2).
        ram_model: ``"eq4"`` (ping-pong buffers, the paper), ``"chain"`` (the tighter
            max_i (u_{i-1} + u_i) bound of a chain executed layer by layer), ``"ops"`` (the
            live-tensor peak of the lowered op graph, a lower bound of what TFLite Micro plans)
            or ``"tflm"`` (TFLM's planned arena, replayed, plus its persistent part; only with
            ``convention="tflm"``; see cost/ram.py).
        bias_bytes: bytes per counted bias term (None: ``weight_bytes``; int8 TFLite stores
            int32 biases, so 4).
        channel_bytes: extra ROM bytes per output channel of every conv op (per-channel
            quantisation scales and zero points of an int8 model).
        fc_channel_bytes: the same for fully connected ops (None: ``channel_bytes``; int8
            TFLite quantises FC layers per tensor by default, so 0 there).
        rom_overhead: fixed ROM bytes added once (model container, e.g. flatbuffer metadata).
        convention: ``"paper"`` (Eqs. 3-5 with the knobs above) or ``"tflm"`` (ROM = the
            flatbuffer, RAM = TFLM's arena; the knobs above are then fixed by the dtype).

    Runtime code, the application and other fixed memory are not costs of the network: they are
    the target's ``rom_reserve`` / ``ram_reserve`` (:class:`entronas.targets.Target`).
    """

    weight_bytes: int = 4
    activation_bytes: int = 4
    input_bytes: int = 4
    bias: bool = False
    code_bytes: tuple[tuple[str, int], ...] = field(default_factory=tuple)
    flops_per_mac: int = 2
    ram_model: str = "eq4"
    bias_bytes: int | None = None
    channel_bytes: int = 0
    fc_channel_bytes: int | None = None
    rom_overhead: int = 0
    convention: str = "paper"

    def __post_init__(self) -> None:
        owner = "CostOptions"
        for name in ("weight_bytes", "activation_bytes", "input_bytes", "flops_per_mac"):
            check_number(getattr(self, name), name, owner, lo=1, integer=True)
        if isinstance(self.code_bytes, Mapping):
            object.__setattr__(self, "code_bytes", tuple(sorted(self.code_bytes.items())))
        for kind, n in self.code_bytes:
            check_number(n, f"code_bytes[{kind}]", owner, lo=0, integer=True)
        check_choice(self.ram_model, "ram_model", owner, RAM_MODELS)
        for name in ("channel_bytes", "rom_overhead"):
            check_number(getattr(self, name), name, owner, lo=0, integer=True)
        check_choice(self.convention, "convention", owner, CONVENTIONS)
        if (self.convention == "tflm") != (self.ram_model == "tflm"):
            raise InvalidParameterError(
                f"ram_model={self.ram_model!r} does not go with convention={self.convention!r}: "
                "the 'tflm' RAM model is the tflm convention's; build options with "
                "entronas.cost.costs('paper' | 'tflm', ...)")
        if self.convention == "tflm" and self.dtype not in ("float32", "int8"):
            raise InvalidParameterError(
                "the tflm convention counts float32 or int8 models (weight, activation and "
                f"input bytes 4 or 1), got {self.weight_bytes}/{self.activation_bytes}/"
                f"{self.input_bytes}")
        if self.bias_bytes is not None:
            check_number(self.bias_bytes, "bias_bytes", owner, lo=1, integer=True)
        if self.fc_channel_bytes is not None:
            check_number(self.fc_channel_bytes, "fc_channel_bytes", owner, lo=0, integer=True)

    @property
    def dtype(self) -> str:
        """``"float32"`` or ``"int8"`` when all bytes agree (4 or 1), else ``"custom"``."""
        sizes = {self.weight_bytes, self.activation_bytes, self.input_bytes}
        return {frozenset({4}): "float32", frozenset({1}): "int8"}.get(frozenset(sizes),
                                                                        "custom")

    def describe(self) -> str:
        """One line naming the convention, e.g. ``tflm int8`` or ``paper float32, Eq. 4``."""
        if self.convention == "tflm":
            return f"tflm {self.dtype} (flatbuffer + TFLM arena)"
        ram = {"eq4": "Eq. 4", "chain": "chain RAM", "ops": "op-graph RAM"}[self.ram_model]
        extra = ", +bias" if self.bias else ""
        return f"paper {self.dtype} ({ram}{extra})"

    def code_size(self, kind: str) -> int:
        for k, n in self.code_bytes:
            if k == kind:
                return n
        return 0

    @classmethod
    def for_dtype(cls, dtype: str, **kw: Any) -> "CostOptions":
        """``"float32"`` (4 bytes everywhere) or ``"int8"`` (1 byte everywhere)."""
        n = {"float32": 4, "int8": 1}[check_choice(dtype, "dtype", "CostOptions.for_dtype",
                                                   ("float32", "int8"))]
        return cls(weight_bytes=n, activation_bytes=n, input_bytes=n, **kw)

    def to_dict(self) -> dict[str, Any]:
        return {"weight_bytes": self.weight_bytes, "activation_bytes": self.activation_bytes,
                "input_bytes": self.input_bytes, "bias": self.bias,
                "code_bytes": dict(self.code_bytes), "flops_per_mac": self.flops_per_mac,
                "ram_model": self.ram_model, "bias_bytes": self.bias_bytes,
                "channel_bytes": self.channel_bytes, "fc_channel_bytes": self.fc_channel_bytes,
                "rom_overhead": self.rom_overhead, "convention": self.convention}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> "CostOptions":
        known = {f for f in cls.__dataclass_fields__}
        unknown = sorted(set(data) - known)
        if unknown:
            raise InvalidParameterError(f"unknown cost option(s) {unknown}; known: "
                                        f"{sorted(known)}")
        return cls(**dict(data))
