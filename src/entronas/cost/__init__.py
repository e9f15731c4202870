"""Analytical resource model (Eqs. 3-5): pure functions of layer descriptions."""

from .flops import flops, layer_flops
from .model import Costs, estimate
from .options import CostOptions
from .ram import layer_peak, network_ram, ram_bytes
from .rom import layer_rom, layer_weights, rom_bytes

__all__ = ["CostOptions", "Costs", "estimate", "flops", "layer_flops", "layer_rom",
           "layer_peak", "layer_weights", "network_ram", "ram_bytes", "rom_bytes"]
