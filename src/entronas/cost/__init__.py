"""Resource model: the paper's Eqs. 3-5 and the deployed TFLite Micro convention.

Pure functions of layer descriptions. :func:`costs` builds the options of a named convention
(``"paper"`` or ``"tflm"``); :func:`estimate` counts one architecture with them.
"""

from .conventions import CONVENTIONS, costs, resolve_costs
from .flops import flops, layer_flops
from .model import Costs, estimate
from .options import CostOptions
from .ram import fixed_ram, layer_peak, layer_persistent, network_ram, ram_bytes
from .rom import fixed_rom, layer_rom, layer_weights, rom_bytes

__all__ = ["CONVENTIONS", "CostOptions", "Costs", "costs", "estimate", "fixed_ram", "fixed_rom",
           "flops", "layer_flops", "layer_peak", "layer_persistent", "layer_rom",
           "layer_weights", "network_ram", "ram_bytes", "resolve_costs", "rom_bytes"]
