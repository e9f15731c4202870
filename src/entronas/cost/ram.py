"""RAM of Eq. (4): two ping-pong buffers, the input in the even one."""

from __future__ import annotations

from typing import Sequence

from .options import CostOptions


def ram_bytes(outputs: Sequence[int], input_size: int, options: CostOptions) -> int:
    """U^RAM for the searched layers' output sizes u_1..u_L and the input size u_0.

    ``eq4``: U_even + U_odd with U_even = max(D^in u_0, D u_i for even i), U_odd = max over odd i.
    ``chain``: max_i (bytes(u_{i-1}) + bytes(u_i)), the tighter bound of layer-by-layer execution.
    """
    d, d_in = options.activation_bytes, options.input_bytes
    sizes = [d_in * input_size] + [d * u for u in outputs]
    if options.ram_model == "chain":
        return max(a + b for a, b in zip(sizes, sizes[1:])) + options.ram_overhead
    even = max(sizes[0::2])
    odd = max(sizes[1::2], default=0)
    return even + odd + options.ram_overhead
