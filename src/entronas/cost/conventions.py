"""Named cost conventions: how a network's ROM, RAM and FLOPs are counted.

Why names: a count is only meaningful with its convention ("167,713 networks fit" under the
paper's Eq. 4, "605 fit" as deployed), so a convention is a registered, serialisable value that
every output line and every stored result carries.

* ``paper``: Eqs. 3-5 exactly as the paper states them: weights only (``bias`` adds biases),
  Eq. 4 ping-pong buffers (``ram_model`` = ``eq4`` | ``chain`` | ``ops``), f = 2 per MAC. This
  keeps every count the paper comparison uses (167,713 for ``dscnn-kws`` on ``paper-small``).
* ``tflm``: what the MCU holds when the network is deployed with TensorFlow Lite Micro: ROM =
  the ``.tflite`` flatbuffer, RAM = TFLM's planned activation arena + its persistent part
  (:mod:`entronas.cost.tflm`). The target's reserves stand for the runtime code and the
  application.

Which one applies when none is named is the target's choice (:attr:`Target.costs`): the paper's
targets use ``paper``, real MCU presets and user budgets ``tflm``.
"""

from __future__ import annotations

from typing import Any, Callable

from .._core.errors import InvalidParameterError
from .._core.registry import Registry
from .._core.validation import check_choice
from .options import CostOptions

DTYPES = ("float32", "int8")

#: convention name -> factory(dtype, **options) -> CostOptions
CONVENTIONS: Registry[Callable[..., CostOptions]] = Registry("cost convention")


def _paper(dtype: str = "float32", *, bias: bool = False, ram_model: str = "eq4") -> CostOptions:
    check_choice(ram_model, "ram_model", "the paper convention", ("eq4", "chain", "ops"))
    return CostOptions.for_dtype(dtype, bias=bias, ram_model=ram_model)


def _tflm(dtype: str = "float32", **extra: Any) -> CostOptions:
    if extra.get("ram_model") not in (None, "tflm"):
        raise InvalidParameterError(
            f"--ram-model {extra['ram_model']} belongs to the paper convention; the tflm "
            "convention counts TFLM's planned arena (use --costs paper to choose a RAM model)")
    if extra.get("bias") is False:
        raise InvalidParameterError("--no-bias does not apply to the tflm convention: a "
                                    "deployed model stores its biases (use --costs paper)")
    return CostOptions.for_dtype(dtype, bias=True, bias_bytes=4 if dtype == "int8" else None,
                                 ram_model="tflm", convention="tflm")


CONVENTIONS.register("paper", _paper)
CONVENTIONS.register("tflm", _tflm)


def costs(name: str = "paper", dtype: str = "float32", **options: Any) -> CostOptions:
    """The :class:`CostOptions` of convention ``name`` ("paper" or "tflm") for ``dtype``.

    ``options`` are the convention's own knobs (``bias``, ``ram_model`` for ``paper``);
    a knob the convention does not have is a one-line error naming it.
    """
    check_choice(dtype, "dtype", "costs()", DTYPES)
    factory = CONVENTIONS.get(name)
    given = {k: v for k, v in options.items() if v is not None}
    try:
        return factory(dtype, **given)
    except TypeError:
        raise InvalidParameterError(
            f"the {name} convention has no option(s) {sorted(given)}") from None


def resolve_costs(name: str | None, *, target: Any = None, dtype: str | None = None,
                  bias: bool | None = None, ram_model: str | None = None) -> CostOptions:
    """The convention a command counts with: ``name``, else the target's default.

    The one resolver behind every command's ``--costs/--dtype/--bias/--ram-model`` flags.
    """
    if name is None:
        name = getattr(target, "costs", None) or "tflm"
    if name == "tflm":
        return costs("tflm", dtype or "float32", bias=None if bias else bias, ram_model=ram_model)
    return costs(name, dtype or "float32", bias=bool(bias), ram_model=ram_model or "eq4")


__all__ = ["CONVENTIONS", "DTYPES", "costs", "resolve_costs"]
