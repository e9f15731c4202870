"""Shared command-line options: one definition of every budget, reserve and cost flag.

Every command that counts (``estimate``, ``reduce``, ``search``, ``darts``) takes the same
flags and resolves them through the same library resolvers (``resolve_space``,
``resolve_target``, ``resolve_costs``), so a flag means the same thing everywhere.
"""

from __future__ import annotations

from typing import Any, Callable

import click

from .._core.arch import parse_widths as split_widths
from .._core.errors import InvalidParameterError


def parse_widths(text: str, flag: str = "--arch") -> tuple[int, ...]:
    """'84,112,84' or '84-112-84' -> (84, 112, 84); one line naming the flag otherwise."""
    try:
        return split_widths(text)
    except ValueError:
        raise InvalidParameterError(f"cannot read {flag} {text!r}; give positive layer widths "
                                    "like 84,112,84") from None


def target_options(default_help: str = "") -> Callable[[Any], Any]:
    """--target/-t, --rom, --ram, --flops, --rom-reserve, --ram-reserve."""
    def wrap(f: Any) -> Any:
        f = click.option("--ram-overhead", "ram_overhead", default=None, hidden=True,
                         help="Deprecated name of --ram-reserve.")(f)
        f = click.option("--ram-reserve", default=None,
                         help="RAM kept for the runtime, the application and the stack, e.g. "
                              "16KiB (default: the target's).")(f)
        f = click.option("--rom-reserve", default=None,
                         help="Flash kept for TFLM's code and the application, e.g. 96KiB "
                              "(default: the target's).")(f)
        f = click.option("--flops", help="FLOPs budget per inference, e.g. 10M.")(f)
        f = click.option("--ram", help="RAM budget, e.g. 256KiB (overrides the target's).")(f)
        f = click.option("--rom", help="ROM/flash budget, e.g. 1MB or 1MiB (overrides the "
                                       "target's).")(f)
        f = click.option("--target", "-t", "target_name", default=None,
                         help="MCU preset (see `entronas targets`) or a target file."
                              + (f" {default_help}" if default_help else ""))(f)
        return f
    return wrap


def cost_options(f: Any) -> Any:
    """--costs, --dtype, --bias/--no-bias, --ram-model (and the old --tflm)."""
    f = click.option("--tflm", is_flag=True, hidden=True,
                     help="Deprecated spelling of --costs tflm.")(f)
    f = click.option("--ram-model", type=click.Choice(["eq4", "chain", "ops"]), default=None,
                     help="paper convention: eq4 = ping-pong buffers (default); chain = "
                          "max(u_{i-1}+u_i); ops = live peak of the op graph.")(f)
    f = click.option("--bias/--no-bias", default=None,
                     help="paper convention: count bias terms (incl. folded BatchNorm) as "
                          "weights (default: no).")(f)
    f = click.option("--dtype", type=click.Choice(["float32", "int8"]), default=None,
                     help="Bytes per weight/activation (default float32).")(f)
    f = click.option("--costs", type=click.Choice(["paper", "tflm"]), default=None,
                     help="Cost convention: paper = Eqs. 3-5; tflm = the exported .tflite and "
                          "TFLite Micro's arena. Default: the target's (paper for paper-*, "
                          "tflm otherwise).")(f)
    return f


def reserves(kw: dict[str, Any]) -> dict[str, Any]:
    """The reserve flags of ``kw`` (``--ram-overhead`` folded into ``--ram-reserve``)."""
    ram = kw.pop("ram_reserve", None)
    old = kw.pop("ram_overhead", None)
    if old is not None and ram is None:
        ram = old
    return {"rom_reserve": kw.pop("rom_reserve", None), "ram_reserve": ram}


def resolve_counting(space: str, *, target_name: str | None, rom: Any, ram: Any, flops: Any,
                     rom_reserve: Any, ram_reserve: Any, costs: str | None, dtype: str | None,
                     bias: bool | None, ram_model: str | None, tflm: bool = False,
                     need_target: bool = True) -> tuple[Any, Any, Any]:
    """(space, target or None, cost options) through the library's one resolver per input."""
    from ..cost.conventions import resolve_costs
    from ..space.config import resolve_space
    from ..targets.resolve import resolve_target

    if tflm:
        if costs == "paper":
            raise InvalidParameterError("--tflm and --costs paper contradict each other")
        costs = "tflm"
    sp, file_target = resolve_space(space)
    target = None
    if need_target or target_name or file_target or rom or ram or flops:
        target = resolve_target(target_name, file_target, rom=rom, ram=ram, flops=flops,
                                rom_reserve=rom_reserve, ram_reserve=ram_reserve)
    options = resolve_costs(costs, target=target, dtype=dtype, bias=bias, ram_model=ram_model)
    return sp, target, options


def fit_line(target: Any, rom: int, ram: int, flops: int, costs: Any, label: str = "fit") -> str:
    """``estimate: ROM 26,224 B + reserve 48 KiB <= 128 KiB, ...: FITS stm32g071 (tflm ...)``."""
    return f"{label}: {target.verdict(rom, ram, flops)[1]}, counted as {costs.describe()}"
