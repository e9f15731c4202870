"""MCU presets with datasheet memory sizes (on-chip flash / SRAM usable by the application).

The paper's budgets "1 MB / 256 kB" were applied as 1,000,000 B ROM and 262,144 B RAM (this is
what reproduces its DS-CNN count); the ``paper-small`` / ``paper-large`` targets use exactly
those numbers, count with the paper's convention and keep no reserve.

The chip presets count as deployed (``tflm``) and keep a reserve of their flash and SRAM for
what is not the network: TensorFlow Lite Micro's interpreter and kernels, the application,
stack and heap. The runtime's code size needs a cross-build for the chip, which was not done
here, so the reserves are allowances we chose, not measurements: 96 KiB flash / 16 KiB SRAM on
Cortex-M4/M7 parts (TFLM with a handful of reference kernels plus a small application), 48 KiB /
8 KiB on the Cortex-M0+ STM32G071, 256 KiB / 64 KiB on the ESP32-S3 (ESP-IDF). Override them
with ``--rom-reserve`` / ``--ram-reserve`` or ``rom_reserve`` / ``ram_reserve`` in a target
file; every fit line prints the reserve it used.
"""

from __future__ import annotations

from .._core.registry import Registry
from .base import Target

TARGETS: Registry[Target] = Registry("target", "entronas targets")

KiB, MiB = 1024, 1024**2

M4 = dict(rom_reserve=96 * KiB, ram_reserve=16 * KiB)

_PRESETS = [
    Target("stm32f412", 1 * MiB, 256 * KiB,
           description="STM32F412ZG Cortex-M4 (paper's small MCU)",
           **M4),
    Target("stm32h743", 2 * MiB, 512 * KiB,
           description="STM32H743ZI Cortex-M7 (paper's large MCU; 512 KiB AXI SRAM)", **M4),
    Target("paper-small", 1_000_000, 262_144, costs="paper",
           description="the paper's small-MCU budgets as applied"),
    Target("paper-large", 2_000_000, 524_288, costs="paper",
           description="the paper's large-MCU budgets as applied"),
    Target("stm32f746", 1 * MiB, 320 * KiB,
           description="STM32F746NG Cortex-M7 (MLPerf Tiny board)", **M4),
    Target("stm32f767", 2 * MiB, 512 * KiB, description="STM32F767ZI Cortex-M7", **M4),
    Target("stm32l476", 1 * MiB, 128 * KiB, description="STM32L476RG Cortex-M4 low power", **M4),
    Target("stm32l4r5", 2 * MiB, 640 * KiB, description="STM32L4R5ZI Cortex-M4 low power", **M4),
    Target("stm32g071", 128 * KiB, 36 * KiB, description="STM32G071RB Cortex-M0+ (tiny)",
           rom_reserve=48 * KiB, ram_reserve=8 * KiB),
    Target("nrf52840", 1 * MiB, 256 * KiB, description="Nordic nRF52840 Cortex-M4F", **M4),
    Target("arduino-nano-33-ble-sense", 1 * MiB, 256 * KiB,
           description="Arduino Nano 33 BLE Sense (nRF52840)", **M4),
    Target("rp2040", 2 * MiB, 264 * KiB,
           description="Raspberry Pi RP2040 (Pico: 2 MiB QSPI flash)", **M4),
    Target("esp32-s3", 8 * MiB, 512 * KiB,
           description="ESP32-S3 (512 KiB SRAM; 8 MiB flash on DevKitC-1 N8)",
           rom_reserve=256 * KiB, ram_reserve=64 * KiB),
]
for _t in _PRESETS:
    TARGETS.register(_t.name, _t)


def get_target(name: str) -> Target:
    return TARGETS.get(name)


def list_targets(pattern: str = "*") -> list[str]:
    return TARGETS.names(pattern)
