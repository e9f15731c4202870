"""Resource estimate of one architecture: ROM, RAM, FLOPs and the per-layer breakdown."""

from __future__ import annotations

from dataclasses import dataclass
from math import prod
from typing import Any, Iterable

from .._core.arch import Arch
from ..space.base import ChainSpace
from .flops import flops, layer_flops
from .options import CostOptions
from .ram import network_ram
from .rom import layer_rom, layer_weights, rom_bytes


@dataclass(frozen=True)
class Costs:
    """U^ROM, U^RAM (bytes) and FLOPs of one candidate, plus the weight count.

    ``convention`` names how they were counted (:meth:`CostOptions.describe`).
    """

    rom: int
    ram: int
    flops: int
    weights: int
    per_layer: tuple[dict[str, Any], ...] = ()
    convention: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {"rom": self.rom, "ram": self.ram, "flops": self.flops, "weights": self.weights,
                "costs": self.convention}


def estimate(space: ChainSpace, arch: Arch | Iterable[int],
             options: CostOptions | None = None) -> Costs:
    """Costs of ``arch`` from the same layer descriptions that build the PyTorch model."""
    options = options or CostOptions()
    layers = space.layers(arch)
    if options.convention == "tflm":
        from .tflm import check_calibrated

        check_calibrated(layers, f"space {space.name!r}")
    per_layer = tuple(
        {"name": layer.name, "kind": layer.kind, "out_shape": layer.out_shape,
         "outputs": layer.outputs, "weights": layer_weights(layer, options),
         "rom": layer_rom(layer, options, first=i == 0), "flops": layer_flops(layer, options)}
        for i, layer in enumerate(layers)
    )
    return Costs(
        rom=rom_bytes(layers, options),
        ram=network_ram(layers, prod(space.input_shape), options),
        flops=flops(layers, options),
        weights=sum(layer_weights(layer, options) for layer in layers),
        per_layer=per_layer,
        convention=options.describe(),
    )
