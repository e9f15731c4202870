"""MCU presets with datasheet memory sizes (on-chip flash / SRAM usable by the application).

The paper's budgets "1 MB / 256 kB" were applied as 1,000,000 B ROM and 262,144 B RAM (this is
what reproduces its DS-CNN count); the ``paper-small`` / ``paper-large`` targets use exactly
those numbers, the chip presets use the datasheet sizes.
"""

from __future__ import annotations

from .._core.registry import Registry
from .base import Target

TARGETS: Registry[Target] = Registry("target", "entronas targets")

KiB, MiB = 1024, 1024**2

_PRESETS = [
    Target("stm32f412", 1 * MiB, 256 * KiB, description="STM32F412ZG Cortex-M4 (paper's small MCU)"),
    Target("stm32h743", 2 * MiB, 512 * KiB,
           description="STM32H743ZI Cortex-M7 (paper's large MCU; 512 KiB AXI SRAM)"),
    Target("paper-small", 1_000_000, 262_144, description="the paper's small-MCU budgets as applied"),
    Target("paper-large", 2_000_000, 524_288, description="the paper's large-MCU budgets as applied"),
    Target("stm32f746", 1 * MiB, 320 * KiB, description="STM32F746NG Cortex-M7 (MLPerf Tiny board)"),
    Target("stm32f767", 2 * MiB, 512 * KiB, description="STM32F767ZI Cortex-M7"),
    Target("stm32l476", 1 * MiB, 128 * KiB, description="STM32L476RG Cortex-M4 low power"),
    Target("stm32l4r5", 2 * MiB, 640 * KiB, description="STM32L4R5ZI Cortex-M4 low power"),
    Target("stm32g071", 128 * KiB, 36 * KiB, description="STM32G071RB Cortex-M0+ (tiny)"),
    Target("nrf52840", 1 * MiB, 256 * KiB, description="Nordic nRF52840 Cortex-M4F"),
    Target("arduino-nano-33-ble-sense", 1 * MiB, 256 * KiB,
           description="Arduino Nano 33 BLE Sense (nRF52840)"),
    Target("rp2040", 2 * MiB, 264 * KiB, description="Raspberry Pi RP2040 (Pico: 2 MiB QSPI flash)"),
    Target("esp32-s3", 8 * MiB, 512 * KiB,
           description="ESP32-S3 (512 KiB SRAM; 8 MiB flash on DevKitC-1 N8)"),
]
for _t in _PRESETS:
    TARGETS.register(_t.name, _t)


def get_target(name: str) -> Target:
    return TARGETS.get(name)


def list_targets(pattern: str = "*") -> list[str]:
    return TARGETS.names(pattern)
